import { describe, expect, it } from "vitest";
import { createDerMap } from "../../src/domain/inventory/der-map.js";

describe("a map keyed by certificate bytes", () => {
  it("finds a value by the bytes, whichever copy of them is given, and makes it once", () => {
    const map = createDerMap<number>();
    let made = 0;
    const der = Uint8Array.from({ length: 1200 }, (_, i) => i % 251);
    expect(map.valueOf(der, () => ++made)).toBe(1);
    expect(map.valueOf(new Uint8Array(der), () => ++made)).toBe(1);
    expect(map.valueOf(Buffer.from(der), () => ++made)).toBe(1);
    expect(made).toBe(1);
  });

  it("keeps apart certificates of the same length that end in the same bytes", () => {
    const map = createDerMap<string>();
    const a = new Uint8Array(100).fill(7);
    const b = new Uint8Array(100).fill(7);
    b[3] = 8;
    expect(map.valueOf(a, () => "a")).toBe("a");
    expect(map.valueOf(b, () => "b")).toBe("b");
    expect(map.valueOf(new Uint8Array(a), () => "again")).toBe("a");
    expect(map.valueOf(new Uint8Array(b), () => "again")).toBe("b");
  });

  it("tells apart a view into a larger buffer from the bytes around it", () => {
    const map = createDerMap<string>();
    const whole = Uint8Array.from({ length: 64 }, (_, i) => i);
    expect(map.valueOf(whole.subarray(10, 40), () => "view")).toBe("view");
    expect(map.valueOf(whole, () => "whole")).toBe("whole");
    expect(map.valueOf(whole.slice(10, 40), () => "copy")).toBe("view");
  });
});
