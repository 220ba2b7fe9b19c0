{
  "targets": [
    {
      "target_name": "strongroom_crypto",
      "sources": ["native/digest-crypto.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
