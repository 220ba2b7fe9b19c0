import { describe, expect, it } from "vitest";
import { secretRandom } from "../../src/crypto/secret-random.js";

describe("secretRandom", () => {
  it("gives each caller bytes of its own, across the blocks it draws from", () => {
    const seen = new Set<string>();
    // 56-byte draws do not divide a 4,096-byte block: some straddle where one block ends.
    for (let i = 0; i < 1000; i++) {
      const drawn = secretRandom(56);
      expect(drawn.length).toBe(56);
      expect(drawn.equals(Buffer.alloc(56))).toBe(false);
      seen.add(drawn.toString("hex"));
    }
    expect(seen.size).toBe(1000);
  });

  it("keeps what it handed out when the caller wipes it", () => {
    const first = secretRandom(32);
    const copy = Buffer.from(first);
    first.fill(0);
    const second = secretRandom(32);
    expect(second.equals(copy)).toBe(false);
    expect(second.equals(Buffer.alloc(32))).toBe(false);
  });

  it("draws more than a block at once", () => {
    const drawn = secretRandom(10_000);
    expect(drawn.length).toBe(10_000);
    expect(drawn.subarray(9_000).equals(Buffer.alloc(1_000))).toBe(false);
  });
});
