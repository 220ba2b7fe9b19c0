/*
 * One-shot AES-256-GCM for sealing values at rest. node:crypto's Cipheriv is a stream object; building
 * one per value costs several times the encryption itself, and every secret read opens two (the
 * wrapped data key, then the value). These run synchronously: the values are small.
 */
#define NAPI_VERSION 8
#include "aes-gcm.h"
#include "buffer-arg.h"
#include <openssl/err.h>
#include <openssl/evp.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16

struct gcm_args {
  unsigned char *key, *nonce, *input, *aad;
  size_t key_len, nonce_len, input_len, aad_len;
};

/* (key, nonce, input[, aad]) with the lengths AES-256-GCM with a 96-bit nonce needs. */
static int read_args(napi_env env, napi_callback_info info, struct gcm_args *a, size_t min_input) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return 0;
  a->aad = NULL;
  a->aad_len = 0;
  napi_valuetype aad_type = napi_undefined;
  if (argc == 4 && napi_typeof(env, argv[3], &aad_type) != napi_ok) return 0;
  return buffer_arg(env, argv[0], &a->key, &a->key_len) && a->key_len == KEY_LEN &&
         buffer_arg(env, argv[1], &a->nonce, &a->nonce_len) && a->nonce_len == NONCE_LEN &&
         buffer_arg(env, argv[2], &a->input, &a->input_len) && a->input_len >= min_input &&
         (aad_type == napi_undefined || buffer_arg(env, argv[3], &a->aad, &a->aad_len));
}

/* OpenSSL 3 looks a legacy EVP_aes_256_gcm() up in its providers on every init; fetched once, it
   does not. EVP_CIPHER objects are immutable and safe to share between threads. */
static EVP_CIPHER *aes_256_gcm(void) {
  static EVP_CIPHER *fetched = NULL;
  if (!fetched) fetched = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  return fetched;
}

/* One context per thread, initialised afresh for every value: re-initialising keeps the provider's
   cipher state allocated, where a new context would allocate and free it each time. */
static _Thread_local EVP_CIPHER_CTX *thread_ctx = NULL;

static EVP_CIPHER_CTX *begin(const struct gcm_args *a, int encrypt) {
  EVP_CIPHER *cipher = aes_256_gcm();
  if (!cipher) return NULL;
  if (!thread_ctx) thread_ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX *ctx = thread_ctx;
  int len;
  if (ctx && EVP_CipherInit_ex(ctx, cipher, NULL, a->key, a->nonce, encrypt) > 0 &&
      (a->aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &len, a->aad, (int)a->aad_len) > 0))
    return ctx;
  return NULL;
}

/* aesGcmSeal(key, nonce, plaintext[, aad]) -> ciphertext || tag */
napi_value aes_gcm_seal(napi_env env, napi_callback_info info) {
  struct gcm_args a;
  if (!read_args(env, info, &a, 0)) {
    napi_throw_type_error(env, NULL, "aesGcmSeal(key[32], nonce[12], plaintext[, aad])");
    return NULL;
  }
  napi_value result = NULL;
  unsigned char *out;
  EVP_CIPHER_CTX *ctx = begin(&a, 1);
  int len = 0, final_len = 0;
  if (!ctx || napi_create_buffer(env, a.input_len + TAG_LEN, (void **)&out, &result) != napi_ok ||
      EVP_CipherUpdate(ctx, out, &len, a.input, (int)a.input_len) <= 0 ||
      EVP_CipherFinal_ex(ctx, out + len, &final_len) <= 0 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + a.input_len) <= 0) {
    result = NULL;
    napi_throw_error(env, NULL, "AES-GCM encryption failed");
  }
  ERR_clear_error();
  return result;
}

/* aesGcmOpen(key, nonce, ciphertext || tag[, aad]) -> plaintext, or null when authentication fails */
napi_value aes_gcm_open(napi_env env, napi_callback_info info) {
  struct gcm_args a;
  if (!read_args(env, info, &a, TAG_LEN)) {
    napi_throw_type_error(env, NULL, "aesGcmOpen(key[32], nonce[12], ciphertextAndTag[, aad])");
    return NULL;
  }
  size_t text_len = a.input_len - TAG_LEN;
  napi_value result = NULL;
  unsigned char *out;
  EVP_CIPHER_CTX *ctx = begin(&a, 0);
  int len = 0, final_len = 0;
  if (!ctx || napi_create_buffer(env, text_len, (void **)&out, &result) != napi_ok) {
    napi_throw_error(env, NULL, "AES-GCM decryption failed");
    result = NULL;
  } else if (EVP_CipherUpdate(ctx, out, &len, a.input, (int)text_len) <= 0 ||
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, a.input + text_len) <= 0 ||
             EVP_CipherFinal_ex(ctx, out + len, &final_len) <= 0) {
    OPENSSL_cleanse(out, text_len);
    napi_get_null(env, &result);
  }
  ERR_clear_error();
  return result;
}
