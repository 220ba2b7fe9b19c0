/*
 * RSA and ECDSA over a precomputed digest, and RSA PKCS#1 v1.5 decryption, through the OpenSSL that
 * Node itself links. Key Vault's sign/verify take a digest, not a message, and node:crypto can only
 * sign messages it hashes itself; Node 20 also refuses PKCS#1 v1.5 decryption (CVE-2023-46809) that
 * Key Vault's RSA1_5 needs. Signing runs on the libuv thread pool so every core signs.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "aes-gcm.h"
#include "buffer-arg.h"
#include "hmac-sha256.h"
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

enum scheme { SCHEME_PKCS1 = 0, SCHEME_PSS = 1, SCHEME_ECDSA = 2 };

#define CHECK(env, call)                                             \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error((env), NULL, "native call failed: " #call);  \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static int set_scheme(EVP_PKEY_CTX *ctx, int scheme, const EVP_MD *md) {
  if (scheme == SCHEME_ECDSA) return EVP_PKEY_CTX_set_signature_md(ctx, md) > 0;
  if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) return 0;
  if (scheme == SCHEME_PSS) {
    /* Key Vault's PS256/384/512: salt as long as the digest (RFC 7518 §3.5). */
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) > 0;
  }
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
}

/* ECDSA signatures travel as r||s, each padded to the order's length (RFC 7518 §3.4). */
static int der_to_raw(const unsigned char *der, size_t der_len, size_t half, unsigned char *out) {
  const unsigned char *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (!sig) return 0;
  const BIGNUM *r, *s;
  ECDSA_SIG_get0(sig, &r, &s);
  int ok = BN_bn2binpad(r, out, (int)half) == (int)half && BN_bn2binpad(s, out + half, (int)half) == (int)half;
  ECDSA_SIG_free(sig);
  return ok;
}

static unsigned char *raw_to_der(const unsigned char *raw, size_t raw_len, int *der_len) {
  size_t half = raw_len / 2;
  ECDSA_SIG *sig = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(raw, (int)half, NULL);
  BIGNUM *s = BN_bin2bn(raw + half, (int)half, NULL);
  if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return NULL;
  }
  unsigned char *der = NULL;
  *der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  return *der_len > 0 ? der : NULL;
}

static size_t ec_order_bytes(EVP_PKEY *key) {
  int bits = EVP_PKEY_get_bits(key);
  return (size_t)((bits + 7) / 8);
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  EVP_PKEY *key;
  unsigned char *digest;
  size_t digest_len;
  char md[16];
  int scheme;
  unsigned char *sig;
  size_t sig_len;
  const char *error;
} sign_job;

static void sign_execute(napi_env env, void *data) {
  (void)env;
  sign_job *job = data;
  EVP_PKEY *key = job->key;
  EVP_PKEY_CTX *ctx = NULL;
  const EVP_MD *md = EVP_get_digestbyname(job->md);
  unsigned char *der = NULL;
  if (!md) { job->error = "unknown digest"; goto done; }
  if ((size_t)EVP_MD_get_size(md) != job->digest_len) { job->error = "digest length does not match the algorithm"; goto done; }
  ctx = EVP_PKEY_CTX_new(key, NULL);
  size_t len = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || !set_scheme(ctx, job->scheme, md) ||
      EVP_PKEY_sign(ctx, NULL, &len, job->digest, job->digest_len) <= 0) {
    job->error = "the key cannot sign with this algorithm";
    goto done;
  }
  der = malloc(len);
  if (!der || EVP_PKEY_sign(ctx, der, &len, job->digest, job->digest_len) <= 0) { job->error = "signing failed"; goto done; }
  if (job->scheme == SCHEME_ECDSA) {
    size_t half = ec_order_bytes(key);
    job->sig = malloc(half * 2);
    if (!job->sig || !der_to_raw(der, len, half, job->sig)) { job->error = "signature encoding failed"; goto done; }
    job->sig_len = half * 2;
  } else {
    job->sig = der;
    job->sig_len = len;
    der = NULL;
  }
done:
  free(der);
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
}

static void sign_complete(napi_env env, napi_status status, void *data) {
  sign_job *job = data;
  napi_value result;
  if (status != napi_ok || job->error) {
    napi_value message;
    napi_create_string_utf8(env, job->error ? job->error : "signing was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, job->deferred, result);
  } else {
    void *out;
    napi_create_buffer_copy(env, job->sig_len, job->sig, &out, &result);
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  EVP_PKEY_free(job->key);
  free(job->digest);
  free(job->sig);
  free(job);
}

/*
 * What a JavaScript key handle holds: the key, and for signSync a signing context kept from one call
 * to the next. Making and initialising an EVP_PKEY_CTX fetches the algorithm from the provider and
 * the digest by name, about a fifth of a P-256 signature; only the main thread uses `sync`.
 */
typedef struct {
  EVP_PKEY *key;
  EVP_PKEY_CTX *sync;
  const EVP_MD *sync_md;
} key_handle;

static void free_key(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  key_handle *handle = data;
  EVP_PKEY_CTX_free(handle->sync);
  EVP_PKEY_free(handle->key);
  free(handle);
}

/* Parsing a key costs more than an RSA signature under OpenSSL 3, so callers keep parsed handles. */
static napi_value wrap_key(napi_env env, EVP_PKEY *key) {
  napi_value handle;
  ERR_clear_error();
  key_handle *data = key ? calloc(1, sizeof(key_handle)) : NULL;
  if (!data) {
    EVP_PKEY_free(key);
    napi_throw_error(env, NULL, "the key could not be parsed");
    return NULL;
  }
  data->key = key;
  CHECK(env, napi_create_external(env, data, free_key, NULL, &handle));
  return handle;
}

/*
 * OpenSSL 3 looks decoders up afresh on every d2i_AutoPrivateKey or d2i_PUBKEY call, which costs
 * ten times the decoding itself (340 against 34 us for a P-256 PKCS#8 key here). A decoder context
 * per structure and key type is kept per thread and reused; other key types take the slow path.
 */
enum structure { STRUCTURE_PKCS8 = 0, STRUCTURE_SPKI = 1 };
enum key_type { KEY_EC = 0, KEY_RSA = 1, KEY_OTHER = 2 };

typedef struct {
  OSSL_DECODER_CTX *ctx;
  EVP_PKEY *out;
} cached_decoder;

static _Thread_local cached_decoder decoders[2][2];

static int key_type_of(int nid) {
  if (nid == NID_X9_62_id_ecPublicKey) return KEY_EC;
  if (nid == NID_rsaEncryption) return KEY_RSA;
  return KEY_OTHER;
}

static EVP_PKEY *decode_cached(int structure, int type, const unsigned char *der, size_t len) {
  cached_decoder *d = &decoders[structure][type];
  if (!d->ctx) {
    d->ctx = OSSL_DECODER_CTX_new_for_pkey(&d->out, "DER",
                                           structure == STRUCTURE_PKCS8 ? "PrivateKeyInfo" : "SubjectPublicKeyInfo",
                                           type == KEY_EC ? "EC" : "RSA",
                                           structure == STRUCTURE_PKCS8 ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                                           NULL, NULL);
    if (!d->ctx) return NULL;
  }
  d->out = NULL;
  const unsigned char *p = der;
  size_t left = len;
  if (!OSSL_DECODER_from_data(d->ctx, &p, &left) || !d->out) {
    /* A failed decode may leave state behind: the next key starts from a fresh context. */
    OSSL_DECODER_CTX_free(d->ctx);
    d->ctx = NULL;
    EVP_PKEY_free(d->out);
    d->out = NULL;
    return NULL;
  }
  EVP_PKEY *key = d->out;
  d->out = NULL;
  return key;
}

static EVP_PKEY *decode_private(const unsigned char *der, size_t len) {
  const unsigned char *p = der;
  PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
  const ASN1_OBJECT *algorithm = NULL;
  int type = KEY_OTHER;
  if (info && PKCS8_pkey_get0(&algorithm, NULL, NULL, NULL, info)) type = key_type_of(OBJ_obj2nid(algorithm));
  PKCS8_PRIV_KEY_INFO_free(info);
  if (type != KEY_OTHER) return decode_cached(STRUCTURE_PKCS8, type, der, len);
  p = der;
  return d2i_AutoPrivateKey(NULL, &p, (long)len);
}

static EVP_PKEY *decode_public(const unsigned char *der, size_t len) {
  const unsigned char *p = der;
  X509_PUBKEY *info = d2i_X509_PUBKEY(NULL, &p, (long)len);
  ASN1_OBJECT *algorithm = NULL;
  int type = KEY_OTHER;
  if (info && X509_PUBKEY_get0_param(&algorithm, NULL, NULL, NULL, info)) type = key_type_of(OBJ_obj2nid(algorithm));
  X509_PUBKEY_free(info);
  if (type != KEY_OTHER) return decode_cached(STRUCTURE_SPKI, type, der, len);
  p = der;
  return d2i_PUBKEY(NULL, &p, (long)len);
}

/* A key handle from the one DER Buffer argument, read by `decode`; `usage` names the call in errors. */
static napi_value key_from_der(napi_env env, napi_callback_info info,
                               EVP_PKEY *(*decode)(const unsigned char *, size_t), const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  unsigned char *der;
  size_t len;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !buffer_arg(env, argv[0], &der, &len)) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return wrap_key(env, decode(der, len));
}

/* privateKey(pkcs8: Buffer): handle */
static napi_value private_key(napi_env env, napi_callback_info info) {
  return key_from_der(env, info, decode_private, "privateKey(pkcs8)");
}

/* publicKey(spki: Buffer): handle */
static napi_value public_key(napi_env env, napi_callback_info info) {
  return key_from_der(env, info, decode_public, "publicKey(spki)");
}

static key_handle *read_handle(napi_env env, napi_value value) {
  void *handle = NULL;
  if (napi_get_value_external(env, value, &handle) != napi_ok) return NULL;
  return handle;
}

static EVP_PKEY *read_key(napi_env env, napi_value value) {
  key_handle *handle = read_handle(env, value);
  return handle ? handle->key : NULL;
}

/* sign(key: handle, scheme: number, md: string, digest: Buffer): Promise<Buffer> */
static napi_value sign(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sign_job *job = calloc(1, sizeof(sign_job));
  unsigned char *digest;
  size_t md_len;
  if (!job || argc < 4 || !(job->key = read_key(env, argv[0])) ||
      napi_get_value_int32(env, argv[1], &job->scheme) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], job->md, sizeof job->md, &md_len) != napi_ok ||
      !buffer_arg(env, argv[3], &digest, &job->digest_len)) {
    free(job);
    napi_throw_type_error(env, NULL, "sign(key, scheme, md, digest)");
    return NULL;
  }
  /* The thread pool must not touch JavaScript memory: the digest is copied and the key held by a
     reference of its own, so collecting the handle mid-flight cannot free it. */
  EVP_PKEY_up_ref(job->key);
  job->digest = malloc(job->digest_len ? job->digest_len : 1);
  memcpy(job->digest, digest, job->digest_len);
  napi_value promise, name;
  CHECK(env, napi_create_promise(env, &job->deferred, &promise));
  CHECK(env, napi_create_string_utf8(env, "strongroom.sign", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, sign_execute, sign_complete, job, &job->work));
  CHECK(env, napi_queue_async_work(env, job->work));
  return promise;
}

/* ECDSA through the handle's kept context, re-initialised only when the digest changes. */
static void ecdsa_sign_kept(key_handle *handle, sign_job *job) {
  const EVP_MD *md = EVP_get_digestbyname(job->md);
  /* The largest ECDSA-Sig-Value, P-521's, is 139 bytes of DER. */
  unsigned char der[160];
  size_t len = sizeof der;
  if (!md) { job->error = "unknown digest"; goto done; }
  if ((size_t)EVP_MD_get_size(md) != job->digest_len) { job->error = "digest length does not match the algorithm"; goto done; }
  if (!handle->sync) {
    handle->sync = EVP_PKEY_CTX_new(handle->key, NULL);
    if (!handle->sync || EVP_PKEY_sign_init(handle->sync) <= 0) {
      EVP_PKEY_CTX_free(handle->sync);
      handle->sync = NULL;
      job->error = "the key cannot sign with this algorithm";
      goto done;
    }
    handle->sync_md = NULL;
  }
  if (handle->sync_md != md) {
    if (EVP_PKEY_CTX_set_signature_md(handle->sync, md) <= 0) { job->error = "the key cannot sign with this algorithm"; goto done; }
    handle->sync_md = md;
  }
  if (EVP_PKEY_sign(handle->sync, der, &len, job->digest, job->digest_len) <= 0) { job->error = "signing failed"; goto done; }
  size_t half = ec_order_bytes(handle->key);
  job->sig = malloc(half * 2);
  if (!job->sig || !der_to_raw(der, len, half, job->sig)) { job->error = "signature encoding failed"; goto done; }
  job->sig_len = half * 2;
done:
  ERR_clear_error();
}

/* signSync(key, scheme, md, digest): Buffer. For ECDSA, whose signature costs less than handing a
   job to the thread pool and back; RSA stays on sign(). */
static napi_value sign_sync(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sign_job job;
  memset(&job, 0, sizeof job);
  size_t md_len;
  key_handle *handle = NULL;
  if (argc < 4 || !(handle = read_handle(env, argv[0])) ||
      napi_get_value_int32(env, argv[1], &job.scheme) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], job.md, sizeof job.md, &md_len) != napi_ok ||
      !buffer_arg(env, argv[3], &job.digest, &job.digest_len)) {
    napi_throw_type_error(env, NULL, "signSync(key, scheme, md, digest)");
    return NULL;
  }
  job.key = handle->key;
  if (job.scheme == SCHEME_ECDSA) ecdsa_sign_kept(handle, &job);
  else sign_execute(env, &job);
  napi_value result = NULL;
  if (job.error) {
    napi_throw_error(env, NULL, job.error);
  } else {
    void *out;
    napi_create_buffer_copy(env, job.sig_len, job.sig, &out, &result);
  }
  free(job.sig);
  return result;
}

/* verify(key: handle, scheme: number, md: string, digest: Buffer, signature: Buffer): boolean */
static napi_value verify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unsigned char *digest, *sig;
  size_t digest_len, sig_len, md_len;
  int scheme;
  char md_name[16];
  EVP_PKEY *key;
  if (argc < 5 || !(key = read_key(env, argv[0])) || napi_get_value_int32(env, argv[1], &scheme) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], md_name, sizeof md_name, &md_len) != napi_ok ||
      !buffer_arg(env, argv[3], &digest, &digest_len) || !buffer_arg(env, argv[4], &sig, &sig_len)) {
    napi_throw_type_error(env, NULL, "verify(key, scheme, md, digest, signature)");
    return NULL;
  }
  const EVP_MD *md = EVP_get_digestbyname(md_name);
  int ok = 0;
  unsigned char *der = NULL;
  int der_len = 0;
  EVP_PKEY_CTX *ctx = NULL;
  if (md && (size_t)EVP_MD_get_size(md) == digest_len) {
    const unsigned char *check = sig;
    size_t check_len = sig_len;
    if (scheme == SCHEME_ECDSA) {
      if (sig_len == ec_order_bytes(key) * 2 && (der = raw_to_der(sig, sig_len, &der_len))) {
        check = der;
        check_len = (size_t)der_len;
      } else {
        check = NULL;
      }
    }
    ctx = EVP_PKEY_CTX_new(key, NULL);
    ok = check && ctx && EVP_PKEY_verify_init(ctx) > 0 && set_scheme(ctx, scheme, md) &&
         EVP_PKEY_verify(ctx, check, check_len, digest, digest_len) == 1;
  }
  OPENSSL_free(der);
  EVP_PKEY_CTX_free(ctx);
  /* A failed check leaves errors on this thread's OpenSSL queue; Node's TLS reads that queue and
     would take them for its own, failing the next record on some connection. */
  ERR_clear_error();
  napi_value result;
  CHECK(env, napi_get_boolean(env, ok, &result));
  return result;
}

/* decryptPkcs1(key: handle, ciphertext: Buffer): Buffer — throws on bad padding. */
static napi_value decrypt_pkcs1(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unsigned char *in;
  size_t in_len;
  EVP_PKEY *key;
  if (argc < 2 || !(key = read_key(env, argv[0])) || !buffer_arg(env, argv[1], &in, &in_len)) {
    napi_throw_type_error(env, NULL, "decryptPkcs1(key, ciphertext)");
    return NULL;
  }
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
  size_t out_len = 0;
  unsigned char *out = NULL;
  napi_value result = NULL;
  if (ctx && EVP_PKEY_decrypt_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
      EVP_PKEY_decrypt(ctx, NULL, &out_len, in, in_len) > 0 && (out = malloc(out_len)) &&
      EVP_PKEY_decrypt(ctx, out, &out_len, in, in_len) > 0) {
    void *copy;
    napi_create_buffer_copy(env, out_len, out, &copy, &result);
  } else {
    napi_throw_error(env, NULL, "decryption failed");
  }
  if (out) OPENSSL_cleanse(out, out_len);
  free(out);
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  return result;
}

/* clearErrors(): empties this thread's OpenSSL error queue. Libraries loaded into the process (a
   PKCS#11 module linked against OpenSSL) share Node's exported OpenSSL and may leave errors behind. */
static napi_value clear_errors(napi_env env, napi_callback_info info) {
  (void)info;
  ERR_clear_error();
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"privateKey", NULL, private_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"publicKey", NULL, public_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sign", NULL, sign, NULL, NULL, NULL, napi_enumerable, NULL},
      {"signSync", NULL, sign_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decryptPkcs1", NULL, decrypt_pkcs1, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clearErrors", NULL, clear_errors, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aesGcmSeal", NULL, aes_gcm_seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aesGcmOpen", NULL, aes_gcm_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hmacSha256", NULL, hmac_sha256, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
