import { describe, expect, it } from "vitest";
import { expiringLevel } from "../../src/domain/alerts/conditions.js";
import { expiryThresholds } from "../../src/domain/alerts/expiry-thresholds.js";
import type { Rule } from "../../src/domain/rules/model.js";
import { ruleValue } from "../../src/domain/rules/rules-service.js";

const at = new Date("2026-12-01T00:00:00Z");
const DAY_MS = 86_400_000;
const DEFAULTS = [30, 14, 7, 1];

function days(value: number[], more: Partial<Rule> = {}): Rule {
  return {
    id: `r-${JSON.stringify(more)}-${value.join(".")}`,
    level: "installation",
    target: "",
    targetName: "installation",
    kind: "expiry-alert-days",
    value,
    locked: false,
    createdAt: at,
    updatedAt: at,
    ...more,
  } as Rule;
}
const vault = (name: string) => ({ level: "vault" as const, target: `id-${name}`, targetName: name });
const ca = (name: string) => ({ level: "ca" as const, target: `ca-${name}`, targetName: name });

describe("expiring alert thresholds from the rules", () => {
  it("are the configured defaults where no rule sets them", () => {
    const t = expiryThresholds([], DEFAULTS);
    expect(t.daysFor({ vaultName: "any" })).toEqual(DEFAULTS);
    expect(t.furthest).toBe(30);
  });

  it("are the installation's rule everywhere a vault or CA sets none", () => {
    const t = expiryThresholds([days([60, 10])], DEFAULTS);
    expect(t.daysFor({})).toEqual([60, 10]);
    expect(t.daysFor({ vaultName: "web" })).toEqual([60, 10]);
    expect(t.furthest).toBe(60);
  });

  it("are a vault's own, matched by its name in any case, replacing an unlocked installation rule", () => {
    const t = expiryThresholds([days([60]), days([90, 45], vault("Payments"))], DEFAULTS);
    expect(t.daysFor({ vaultName: "payments" })).toEqual([90, 45]);
    expect(t.daysFor({ vaultName: "web" })).toEqual([60]);
    expect(t.furthest).toBe(90);
  });

  it("join a locked installation rule instead of replacing it", () => {
    const t = expiryThresholds([days([21], { locked: true }), days([5], vault("edge"))], DEFAULTS);
    expect(t.daysFor({ vaultName: "edge" })).toEqual([21, 5]);
  });

  it("are the union of the vault's and the issuing CA's when both set them", () => {
    const t = expiryThresholds([days([40], vault("web")), days([3], ca("Issuing-1"))], DEFAULTS);
    expect(t.daysFor({ vaultName: "web", caName: "issuing-1" })).toEqual([40, 3]);
    expect(t.daysFor({ caName: "Issuing-1" })).toEqual([3]);
  });

  it("leave rules limited to entry points out: those govern requests only", () => {
    const t = expiryThresholds([days([200], { entries: ["ca-sign"] })], DEFAULTS);
    expect(t.daysFor({})).toEqual(DEFAULTS);
  });

  it("decide the level reached: the smallest threshold not below the days left", () => {
    expect(expiringLevel(44 * DAY_MS, [90, 45])).toBe(45);
    expect(expiringLevel(46 * DAY_MS, [90, 45])).toBe(90);
    expect(expiringLevel(91 * DAY_MS, [90, 45])).toBeUndefined();
  });

  it("refuse values a person could not mean", () => {
    expect(ruleValue("expiry-alert-days", [7, 30, 7])).toEqual([30, 7]);
    for (const bad of [[], [0], [1.5], ["30"], 30, Array.from({ length: 17 }, (_, i) => i + 1), [4000]])
      expect(() => ruleValue("expiry-alert-days", bad)).toThrow(
        /expiry-alert-days takes 1 to 16 whole numbers/,
      );
  });
});
