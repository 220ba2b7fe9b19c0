import { describe, expect, it } from "vitest";
import { ALL_DATA_ACTIONS, DataActions } from "../../src/domain/access/data-actions.js";
import { actionMatches, BUILT_IN_ROLES, grantedActions } from "../../src/domain/access/roles.js";
import { canonicalScope } from "../../src/domain/access/scopes.js";
import { createThrottle } from "../../src/domain/access/throttle.js";

describe("action patterns", () => {
  it("match like Azure's: * spans slashes and case is ignored", () => {
    expect(actionMatches("Microsoft.KeyVault/vaults/*", DataActions.keysSign)).toBe(true);
    expect(actionMatches("Microsoft.KeyVault/vaults/*/read", DataActions.keyRotationPoliciesRead)).toBe(true);
    expect(actionMatches("microsoft.keyvault/VAULTS/secrets/getsecret/action", DataActions.secretsGet)).toBe(
      true,
    );
    expect(actionMatches("Microsoft.KeyVault/vaults/*/read", DataActions.secretsGet)).toBe(false);
    expect(actionMatches("Microsoft.KeyVault/vaults/keys/*", DataActions.keyRotationPoliciesRead)).toBe(
      false,
    );
    expect(actionMatches("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/readx")).toBe(
      false,
    );
  });

  it("take notDataActions out of what a role grants", () => {
    expect(
      grantedActions(
        ["Microsoft.KeyVault/vaults/secrets/*"],
        ["Microsoft.KeyVault/vaults/secrets/*/action"],
        ALL_DATA_ACTIONS,
      ),
    ).toEqual([DataActions.secretsDelete]);
  });

  it("gives Key Vault Reader reads and secret metadata, never a secret value", () => {
    const reader = BUILT_IN_ROLES.find((r) => r.name === "Key Vault Reader");
    const granted = grantedActions(reader?.dataActions ?? [], [], ALL_DATA_ACTIONS);
    expect(granted).toContain(DataActions.secretsReadMetadata);
    expect(granted).toContain(DataActions.certificateIssuersRead);
    expect(granted).not.toContain(DataActions.secretsGet);
  });
});

describe("scopes", () => {
  it("are canonical: lower case, no trailing slash", () => {
    expect(canonicalScope("")).toBe("/");
    expect(canonicalScope("/Vaults/Team/Certificates/Web/")).toBe("/vaults/team/certificates/web");
  });

  it.each([
    "/vaults",
    "/vaults/a/secrets",
    "/vaults/a/widgets/x",
    "/vaults/a/secrets/x/y",
    "vaults/a",
    "/vaults/a b",
  ])("refuses %s", (scope) => {
    expect(() => canonicalScope(scope)).toThrow(/is invalid/);
  });
});

describe("the token bucket", () => {
  it("allows a burst, then one request per refill interval, and says how long to wait", () => {
    const throttle = createThrottle({ ratePerSecond: 2, burst: 3 });
    expect([0, 0, 0].map(() => throttle.take("p", 1000))).toEqual([0, 0, 0]);
    expect(throttle.take("p", 1000)).toBe(500);
    // The caller refused at 1000 has the slot at 1500; this one is told the next, at 2000.
    expect(throttle.take("p", 1250)).toBe(750);
    expect(throttle.take("p", 1500)).toBe(0);
    expect(throttle.take("other", 1500)).toBe(0);
  });

  it("tells callers refused together to come back one refill interval apart", () => {
    const throttle = createThrottle({ ratePerSecond: 10, burst: 1 });
    expect(throttle.take("p", 0)).toBe(0);
    const waits = Array.from({ length: 64 }, () => throttle.take("p", 0));
    expect(waits.slice(0, 3)).toEqual([100, 200, 300]);
    expect(waits.at(-1)).toBe(6400);
    // Each comes back at its slot and finds the token the refill made for it.
    const granted = waits.filter((wait) => throttle.take("p", wait) === 0);
    expect(granted).toHaveLength(64);
  });

  it("never stores more than the burst, however long it was idle", () => {
    const throttle = createThrottle({ ratePerSecond: 10, burst: 2 });
    throttle.take("p", 0);
    expect([0, 0, 0].map(() => throttle.take("p", 60_000))).toEqual([0, 0, 100]);
  });
});
