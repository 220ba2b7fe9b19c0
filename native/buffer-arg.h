#ifndef STRONGROOM_BUFFER_ARG_H
#define STRONGROOM_BUFFER_ARG_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

/* The bytes of a Buffer argument, without copying; 0 when the value is not a Buffer. */
static inline int buffer_arg(napi_env env, napi_value value, unsigned char **data, size_t *len) {
  void *raw;
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return 0;
  if (napi_get_buffer_info(env, value, &raw, len) != napi_ok) return 0;
  *data = raw;
  return 1;
}

#endif
