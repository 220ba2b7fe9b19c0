import { describe, expect, it } from "vitest";
import { lifetimeActionDueAt } from "../../src/domain/certificates/lifetime.js";
import type { StoredEvent } from "../../src/domain/events/model.js";
import {
  keyVaultEventData,
  matches,
  nextAttemptDelayMs,
  type WebhookSubscription,
} from "../../src/domain/events/webhooks.js";
import { addDuration } from "../../src/domain/keys/key-service.js";
import { normalizeRotationPolicy } from "../../src/domain/keys/rotation-policy.js";
import { rotationDueAt } from "../../src/jobs/key-rotation-job.js";

const DAY_MS = 86_400_000;
const nbf = new Date("2026-01-01T00:00:00Z");
const exp = new Date("2026-04-11T00:00:00Z"); // 100 days later

describe("lifetime actions", () => {
  it("fall due at a percentage of the way from nbf to exp", () => {
    const policy = { lifetimeActions: [{ lifetimePercentage: 80, action: "AutoRenew" as const }] };
    expect(lifetimeActionDueAt(policy, "AutoRenew", nbf, exp)).toEqual(new Date(nbf.getTime() + 80 * DAY_MS));
  });

  it("fall due a number of days before exp", () => {
    const policy = { lifetimeActions: [{ daysBeforeExpiry: 30, action: "EmailContacts" as const }] };
    expect(lifetimeActionDueAt(policy, "EmailContacts", nbf, exp)).toEqual(
      new Date(exp.getTime() - 30 * DAY_MS),
    );
    expect(lifetimeActionDueAt(policy, "AutoRenew", nbf, exp)).toBeUndefined();
  });
});

describe("ISO 8601 durations and rotation policies", () => {
  it("add years, months, weeks, days and time", () => {
    expect(addDuration(nbf, "P1Y2M")).toEqual(new Date("2027-03-01T00:00:00Z"));
    expect(addDuration(nbf, "P2W")).toEqual(new Date("2026-01-15T00:00:00Z"));
    expect(addDuration(nbf, "PT36H")).toEqual(new Date("2026-01-02T12:00:00Z"));
  });

  it("rotate after creation or before expiry", () => {
    expect(rotationDueAt({ timeAfterCreate: "P30D", action: "Rotate" }, nbf, undefined)).toEqual(
      new Date("2026-01-31T00:00:00Z"),
    );
    expect(rotationDueAt({ timeBeforeExpiry: "P10D", action: "Rotate" }, nbf, exp)).toEqual(
      new Date("2026-04-01T00:00:00Z"),
    );
    expect(rotationDueAt({ timeBeforeExpiry: "P10D", action: "Rotate" }, nbf, undefined)).toBeUndefined();
  });

  it("get Key Vault's default Notify action and refuse malformed ones", () => {
    expect(normalizeRotationPolicy({ lifetimeActions: [] }).lifetimeActions).toEqual([
      { timeBeforeExpiry: "P30D", action: "Notify" },
    ]);
    expect(() =>
      normalizeRotationPolicy({ lifetimeActions: [{ timeAfterCreate: "30 days", action: "Rotate" }] }),
    ).toThrow(/ISO 8601/);
    expect(() => normalizeRotationPolicy({ lifetimeActions: [{ action: "Rotate" }] })).toThrow(
      /exactly one trigger/,
    );
  });
});

describe("webhook rules", () => {
  const event: StoredEvent = {
    seq: 1,
    id: "e1",
    type: "CertificateNearExpiry",
    vaultId: "v",
    vaultName: "payments",
    objectType: "Certificate",
    objectName: "api-tls",
    version: "0123456789abcdef0123456789abcdef",
    notBefore: nbf,
    expiresAt: exp,
    time: nbf,
  };
  const subscription = (over: Partial<WebhookSubscription>): WebhookSubscription => ({
    id: "s",
    name: "s",
    endpoint: "https://x",
    eventTypes: [],
    vaults: [],
    schema: "EventGridSchema",
    status: "active",
    cursor: 0,
    createdAt: nbf,
    updatedAt: nbf,
    ...over,
  });

  it("filter by event type, vault and name prefix", () => {
    expect(matches(subscription({}), event)).toBe(true);
    expect(matches(subscription({ eventTypes: ["SecretNearExpiry"] }), event)).toBe(false);
    expect(matches(subscription({ vaults: ["other"] }), event)).toBe(false);
    expect(matches(subscription({ subjectBeginsWith: "api-" }), event)).toBe(true);
    expect(matches(subscription({ subjectBeginsWith: "web-" }), event)).toBe(false);
  });

  it("carry Key Vault's event data with Unix seconds", () => {
    expect(keyVaultEventData(event, "https://payments.vault.example:8443")).toEqual({
      Id: "https://payments.vault.example:8443/certificates/api-tls/0123456789abcdef0123456789abcdef",
      VaultName: "payments",
      ObjectType: "Certificate",
      ObjectName: "api-tls",
      Version: "0123456789abcdef0123456789abcdef",
      NBF: nbf.getTime() / 1000,
      EXP: exp.getTime() / 1000,
    });
  });

  it("back off from ten seconds to an hour", () => {
    expect(nextAttemptDelayMs(0, () => 0)).toBe(10_000);
    expect(nextAttemptDelayMs(3, () => 0)).toBe(80_000);
    expect(nextAttemptDelayMs(30, () => 0)).toBe(3_600_000);
  });
});
