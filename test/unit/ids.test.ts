import { describe, expect, it } from "vitest";
import { isVersion, newVersion, randomPart } from "../../src/domain/ids.js";

describe("object versions", () => {
  it("are 32 lower-case hex digits, never repeated, across the blocks they are drawn from", () => {
    const versions = Array.from({ length: 2000 }, newVersion);
    for (const version of versions) expect(isVersion(version), version).toBe(true);
    expect(new Set(versions).size).toBe(versions.length);
  });

  it("use every hex digit in every position, as random bytes do", () => {
    const versions = Array.from({ length: 2000 }, newVersion);
    for (let position = 0; position < 32; position++) {
      expect(new Set(versions.map((v) => v[position])).size, `position ${position}`).toBe(16);
    }
  });
});

describe("random parts", () => {
  it("of mixed sizes never overlap, and keep their bytes once the next block is drawn", () => {
    const parts = Array.from({ length: 3000 }, (_, i) => [10, 16, 32][i % 3] as number).map((n) => {
      const part = randomPart(n);
      expect(part.length).toBe(n);
      return { part, copy: Buffer.from(part) };
    });
    for (const { part, copy } of parts) expect(part.equals(copy)).toBe(true);
    expect(new Set(parts.map(({ copy }) => copy.toString("hex"))).size).toBe(parts.length);
  });
});
