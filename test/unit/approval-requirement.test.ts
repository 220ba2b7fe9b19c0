import { describe, expect, it } from "vitest";
import { strictestRequirement } from "../../src/domain/approvals/requirement.js";
import type { CertificateRequestFacts } from "../../src/domain/rules/issuance-gate.js";
import { parseRuleValue, ruleValue } from "../../src/domain/rules/rules-service.js";

const facts = (names: string[], validityDays: number): CertificateRequestFacts => ({
  subject: `CN=${names[0]}`,
  sans: names.map((value) => ({ type: "dns", value })),
  keyType: "EC",
  validityDays,
});

describe("approval rules", () => {
  it("take an approver count and conditions, from JSON or a command line", () => {
    expect(ruleValue("approval", { approvals: 2, wildcards: true })).toEqual({
      approvals: 2,
      wildcards: true,
    });
    expect(parseRuleValue("approval", "approvals=3,wildcards,validity-above=397,imports")).toEqual({
      approvals: 3,
      wildcards: true,
      validityAboveDays: 397,
      imports: true,
    });
  });

  it.each([
    [{}, "approvals must be a whole number from 1 to 100"],
    [{ approvals: 0 }, "approvals must be a whole number from 1 to 100"],
    [{ approvals: 1, wildcards: "yes" }, "wildcards takes true or false"],
    [{ approvals: 1, validityAboveDays: -1 }, "validityAboveDays must be a whole number of days"],
    [{ approvals: 1, vault: "x" }, '"vault" is not one of'],
    [[1], "takes an object"],
  ])("refuses %j", (value, message) => {
    expect(() => ruleValue("approval", value)).toThrow(message);
  });

  it("hold a request meeting any condition; the strictest met requirement decides", () => {
    const requirements = [
      { approvals: 1, validityAboveDays: 90 },
      { approvals: 2, wildcards: true },
    ];
    expect(strictestRequirement(requirements, "ca-sign", facts(["a.example"], 90))).toBeUndefined();
    expect(strictestRequirement(requirements, "ca-sign", facts(["a.example"], 91))).toEqual({
      requirement: requirements[0],
      because: ["validity of 91 days is above 90"],
    });
    expect(strictestRequirement(requirements, "ca-sign", facts(["a.example", "*.a.example"], 200))).toEqual({
      requirement: requirements[1],
      because: ["wildcard name *.a.example"],
    });
  });

  it("hold imports when asked to, and every request when no condition is given", () => {
    const imports = [{ approvals: 1, imports: true }];
    expect(strictestRequirement(imports, "keyvault-import", facts(["a.example"], 30))?.because).toEqual([
      "an import",
    ]);
    expect(strictestRequirement(imports, "keyvault-create", facts(["a.example"], 30))).toBeUndefined();
    expect(
      strictestRequirement([{ approvals: 1 }], "acme-server", facts(["a.example"], 30))?.because,
    ).toEqual(["every acme-server request"]);
  });
});
