import { describe, expect, it } from "vitest";
import { createReadCache } from "../../src/storage/read-cache.js";

describe("the read cache", () => {
  it("serves an entry while the change stamp stands still, and never after it moves", () => {
    let stamp = 1;
    const cache = createReadCache<{ v: number }>(() => stamp);
    cache.set("a", cache.stamp(), { v: 1 });
    expect(cache.get("a")).toEqual({ v: 1 });
    stamp = 2;
    expect(cache.get("a")).toBeUndefined();
  });

  it("drops what was read before a write that landed during the read", () => {
    let stamp = 1;
    const cache = createReadCache<{ v: number }>(() => stamp);
    const before = cache.stamp();
    stamp = 2;
    cache.set("a", before, { v: 1 });
    expect(cache.get("a")).toBeUndefined();
  });

  it("keeps at most its capacity, forgetting the oldest entry first", () => {
    const cache = createReadCache<{ v: number }>(() => 0, 2);
    cache.set("a", 0, { v: 1 });
    cache.set("b", 0, { v: 2 });
    cache.set("c", 0, { v: 3 });
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")).toEqual({ v: 2 });
    expect(cache.get("c")).toEqual({ v: 3 });
  });

  it("hands out frozen values, so a caller cannot change what the next one reads", () => {
    const cache = createReadCache<{ v: number }>(() => 0);
    cache.set("a", 0, { v: 1 });
    const value = cache.get("a") as { v: number };
    expect(() => {
      value.v = 2;
    }).toThrow(TypeError);
  });
});
