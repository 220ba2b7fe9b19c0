/** A token-bucket limit: `ratePerSecond` sustained, `burst` at once. */
export interface ThrottleLimit {
  ratePerSecond: number;
  burst: number;
}

export type Throttle = ReturnType<typeof createThrottle>;

/**
 * In-memory token buckets, one per key (a vault or a principal), refilled lazily on each take: O(1)
 * per request and no timer. Per process: several nodes each allow the limit.
 */
export function createThrottle({ ratePerSecond, burst }: ThrottleLimit) {
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  const perMs = ratePerSecond / 1000;
  return {
    /** Takes one token; 0 when granted, otherwise how many ms until one is available. */
    take(key: string, nowMs: number): number {
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { tokens: burst, atMs: nowMs };
        buckets.set(key, bucket);
      } else if (nowMs > bucket.atMs) {
        bucket.tokens = Math.min(burst, bucket.tokens + (nowMs - bucket.atMs) * perMs);
        bucket.atMs = nowMs;
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - bucket.tokens) / perMs);
    },
    /** Returns a token taken for a request that another limit then refused. */
    giveBack(key: string): void {
      const bucket = buckets.get(key);
      if (bucket) bucket.tokens = Math.min(burst, bucket.tokens + 1);
    },
  };
}
