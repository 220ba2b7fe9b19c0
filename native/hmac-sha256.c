/*
 * One-shot HMAC-SHA256 for the audit chain, which links every request's row: node:crypto's Hmac is
 * a stream object whose construction costs several times the MAC of a short row.
 */
#define NAPI_VERSION 8
#include "hmac-sha256.h"
#include "buffer-arg.h"
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define MAC_LEN 32

/* Fetched once: OpenSSL 3 would otherwise look HMAC up in its providers on every call. */
static EVP_MAC *hmac(void) {
  static EVP_MAC *fetched = NULL;
  if (!fetched) fetched = EVP_MAC_fetch(NULL, "HMAC", NULL);
  return fetched;
}

/* The audit chain MACs every row under one key: each thread keeps a context keyed with the last key
   it saw and restarts it with that key (EVP_MAC_init with a NULL key), instead of building one. */
static _Thread_local EVP_MAC_CTX *thread_ctx = NULL;
static _Thread_local unsigned char last_key[64];
static _Thread_local size_t last_key_len = 0;

static EVP_MAC_CTX *keyed_context(const unsigned char *key, size_t key_len) {
  EVP_MAC *mac = hmac();
  if (!mac) return NULL;
  if (!thread_ctx && !(thread_ctx = EVP_MAC_CTX_new(mac))) return NULL;
  if (key_len == last_key_len && CRYPTO_memcmp(key, last_key, key_len) == 0)
    return EVP_MAC_init(thread_ctx, NULL, 0, NULL) > 0 ? thread_ctx : NULL;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  last_key_len = 0;
  if (EVP_MAC_init(thread_ctx, key, key_len, params) <= 0) return NULL;
  if (key_len <= sizeof last_key) {
    memcpy(last_key, key, key_len);
    last_key_len = key_len;
  }
  return thread_ctx;
}

/* hmacSha256(key, data) -> 32-byte MAC */
napi_value hmac_sha256(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  unsigned char *key, *data;
  size_t key_len, data_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !buffer_arg(env, argv[0], &key, &key_len) || key_len == 0 || !buffer_arg(env, argv[1], &data, &data_len)) {
    napi_throw_type_error(env, NULL, "hmacSha256(key, data)");
    return NULL;
  }
  EVP_MAC_CTX *ctx = keyed_context(key, key_len);
  napi_value result = NULL;
  unsigned char *out;
  size_t out_len = 0;
  if (!ctx || EVP_MAC_update(ctx, data, data_len) <= 0 ||
      napi_create_buffer(env, MAC_LEN, (void **)&out, &result) != napi_ok ||
      EVP_MAC_final(ctx, out, &out_len, MAC_LEN) <= 0 || out_len != MAC_LEN) {
    result = NULL;
    napi_throw_error(env, NULL, "HMAC-SHA256 failed");
  }
  ERR_clear_error();
  return result;
}
