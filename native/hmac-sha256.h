#ifndef STRONGROOM_HMAC_SHA256_H
#define STRONGROOM_HMAC_SHA256_H
#include <node_api.h>

napi_value hmac_sha256(napi_env env, napi_callback_info info);

#endif
