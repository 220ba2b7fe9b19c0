/**
 * Objects read from the embedded database, kept while nothing could have changed them: each entry
 * remembers the storage's change stamp from before its read, and any write since (through this
 * process or by another process on the same file) moves the stamp on, so a stale entry is never
 * served. Entries hold what the database holds (payloads stay sealed).
 */
export interface ReadCache<T> {
  get(key: string): T | undefined;
  /** The stamp to pass to `set` for a read that starts now. */
  stamp(): number;
  set(key: string, stamp: number, value: T): void;
}

export function createReadCache<T extends object>(
  changeStamp: () => number,
  capacity = 10_000,
): ReadCache<T> {
  const entries = new Map<string, { stamp: number; value: T }>();
  return {
    get(key) {
      const entry = entries.get(key);
      return entry && entry.stamp === changeStamp() ? entry.value : undefined;
    },
    stamp: changeStamp,
    set(key, stamp, value) {
      if (stamp !== changeStamp()) return;
      if (entries.size >= capacity && !entries.has(key)) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      // Callers share the cached object; freezing it turns an accidental edit into an error.
      entries.set(key, { stamp, value: Object.freeze(value) });
    },
  };
}
