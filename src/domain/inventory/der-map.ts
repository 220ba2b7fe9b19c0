/**
 * Values keyed by a certificate's bytes. A scan hands over the same chain from every endpoint of a
 * fleet, each endpoint with its own copy, and keying a map by the whole DER (a base64 or latin1
 * string of 1–2 KB built and hashed per lookup) was the largest part of recording a batch of
 * results. The key here is the length and the last 16 bytes, which lie in the signature and differ
 * between any two certificates in practice; certificates that share a key are told apart by their
 * bytes, so a collision costs a comparison, never a wrong value.
 */
export function createDerMap<V>() {
  // The same array again (a scan hands one copy of a chain to all the endpoints that served it)
  // is found by identity, without building a key.
  const known = new Map<Uint8Array, V>();
  const buckets = new Map<string, { der: Uint8Array; value: V }[]>();
  const keyOf = (der: Uint8Array) =>
    `${der.byteLength}:${Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("latin1", Math.max(0, der.byteLength - 16))}`;
  return {
    /** The value kept for `der`, made by `make` the first time these bytes are seen. */
    valueOf(der: Uint8Array, make: () => V): V {
      if (known.has(der)) return known.get(der) as V;
      const key = keyOf(der);
      let bucket = buckets.get(key);
      let value: V | undefined;
      for (const entry of bucket ?? []) {
        if (Buffer.compare(entry.der, der) === 0) {
          value = entry.value;
          break;
        }
      }
      if (value === undefined) {
        value = make();
        if (!bucket) {
          bucket = [];
          buckets.set(key, bucket);
        }
        bucket.push({ der, value });
      }
      known.set(der, value);
      return value;
    },
  };
}
