/** A token-bucket limit: `ratePerSecond` sustained, `burst` at once. */
export interface ThrottleLimit {
  ratePerSecond: number;
  burst: number;
}

export type Throttle = ReturnType<typeof createThrottle>;

/**
 * In-memory token buckets, one per key (a vault or a principal), refilled lazily on each take: O(1)
 * per request and no timer. Per process: several nodes each allow the limit.
 *
 * A refused caller is told when the refill has a token for it, behind the callers refused before
 * it: the bucket keeps the next free slot, one refill interval after the last one handed out. Told
 * all the same "one token's time", 64 clients refused at once come back at once, 54 of them are
 * refused again, and the SDKs give up after three or four such rounds.
 */
export function createThrottle({ ratePerSecond, burst }: ThrottleLimit) {
  const buckets = new Map<string, { tokens: number; atMs: number; nextSlotMs: number }>();
  const perMs = ratePerSecond / 1000;
  const intervalMs = 1 / perMs;
  return {
    /** Takes one token; 0 when granted, otherwise how many ms until the caller's slot in the refill. */
    take(key: string, nowMs: number): number {
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { tokens: burst, atMs: nowMs, nextSlotMs: 0 };
        buckets.set(key, bucket);
      } else if (nowMs > bucket.atMs) {
        bucket.tokens = Math.min(burst, bucket.tokens + (nowMs - bucket.atMs) * perMs);
        bucket.atMs = nowMs;
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      const slot = Math.max(nowMs + (1 - bucket.tokens) / perMs, bucket.nextSlotMs + intervalMs);
      bucket.nextSlotMs = slot;
      return Math.ceil(slot - nowMs);
    },
    /** Returns a token taken for a request that another limit then refused. */
    giveBack(key: string): void {
      const bucket = buckets.get(key);
      if (bucket) bucket.tokens = Math.min(burst, bucket.tokens + 1);
    },
  };
}
