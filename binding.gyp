{
  "targets": [
    {
      "target_name": "strongroom_crypto",
      "sources": ["native/digest-crypto.c", "native/aes-gcm.c", "native/hmac-sha256.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
