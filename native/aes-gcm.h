#ifndef STRONGROOM_AES_GCM_H
#define STRONGROOM_AES_GCM_H
#include <node_api.h>

napi_value aes_gcm_seal(napi_env env, napi_callback_info info);
napi_value aes_gcm_open(napi_env env, napi_callback_info info);

#endif
