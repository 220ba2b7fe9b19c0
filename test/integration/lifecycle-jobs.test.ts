import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retryDelayMs } from "../../src/jobs/renewal-job.js";
import { createSqlEventStore } from "../../src/storage/sql-event-store.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;

describe("a year of simulated time", () => {
  const clock = fakeClock(new Date("2026-01-01T00:00:00Z"));
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
  });
  afterAll(() => server?.stop());

  const runJobs = async () => {
    for (const job of ["renewals", "expiry-notices"]) await server.strongroom.scheduler.runOnce(job);
  };
  const events = async () => createSqlEventStore(server.strongroom.core.storage).after(0, 10_000);
  const versions = async (name: string) =>
    (
      (await server.kv({ method: "GET", url: `/certificates/${name}/versions?${V}` })).json()
        .value as unknown[]
    ).length;

  it("renews each certificate exactly once per cycle, at 80 % of its lifetime or N days before expiry", async () => {
    const create = (name: string, lifetime: Record<string, number>) =>
      server.createCertificate(name, {
        policy: {
          issuer: { name: "Self" },
          key_props: { kty: "EC" },
          x509_props: { subject: `CN=${name}`, validity_months: 3 },
          lifetime_actions: [{ trigger: lifetime, action: { action_type: "AutoRenew" } }],
        },
      });
    expect((await create("percent", { lifetime_percentage: 80 })).statusCode).toBe(202);
    expect((await create("days", { days_before_expiry: 10 })).statusCode).toBe(202);

    const renewedOn: Record<string, number[]> = { percent: [], days: [] };
    for (let day = 1; day <= 365; day++) {
      clock.advance(DAY_MS);
      await runJobs();
      for (const name of ["percent", "days"]) {
        const count = await versions(name);
        if (count > (renewedOn[name]?.length ?? 0) + 1) renewedOn[name]?.push(day);
      }
    }
    // Three-month certificates: 80 % is about day 72 of each cycle; 10 days before expiry about day 80.
    expect(renewedOn.percent?.length).toBeGreaterThanOrEqual(4);
    expect(renewedOn.days?.length).toBeGreaterThanOrEqual(4);
    for (const days of Object.values(renewedOn)) {
      for (let i = 1; i < days.length; i++) {
        const gap = (days[i] ?? 0) - (days[i - 1] ?? 0);
        expect(gap).toBeGreaterThanOrEqual(70);
        expect(gap).toBeLessThanOrEqual(92);
      }
    }
    const created = (await events()).filter((e) => e.type === "CertificateNewVersionCreated");
    expect(created.filter((e) => e.objectName === "percent")).toHaveLength(
      1 + (renewedOn.percent?.length ?? 0),
    );
    expect(created.filter((e) => e.objectName === "days")).toHaveLength(1 + (renewedOn.days?.length ?? 0));
    // A renewed version never expires unnoticed: no Expired event for certificates that kept renewing.
    expect((await events()).filter((e) => e.type === "CertificateExpired")).toHaveLength(0);
  });

  it("raises NearExpiry and Expired once each for a secret, in order", async () => {
    const exp = Math.floor(clock.now().getTime() / 1000) + 40 * 86_400;
    await server.kv({
      method: "PUT",
      url: `/secrets/expiring?${V}`,
      body: { value: "v", attributes: { exp } },
    });
    const mine = async () => (await events()).filter((e) => e.objectName === "expiring").map((e) => e.type);
    await runJobs();
    expect(await mine()).toEqual(["SecretNewVersionCreated"]);
    clock.advance(11 * DAY_MS);
    await runJobs();
    await runJobs();
    expect(await mine()).toEqual(["SecretNewVersionCreated", "SecretNearExpiry"]);
    clock.advance(30 * DAY_MS);
    await runJobs();
    await runJobs();
    expect(await mine()).toEqual(["SecretNewVersionCreated", "SecretNearExpiry", "SecretExpired"]);
  });

  it("raises CertificateRenewalFailed when renewal fails, and retries with backoff", async () => {
    await server.createCertificate("doomed", {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: "CN=d", validity_months: 1 },
      },
    });
    // The next version is to come from an issuer nothing serves.
    await server.kv({
      method: "PUT",
      url: `/certificates/issuers/nowhere?${V}`,
      body: { provider: "NoSuchProvider" },
    });
    await server.kv({
      method: "PATCH",
      url: `/certificates/doomed/policy?${V}`,
      body: { issuer: { name: "nowhere" } },
    });
    clock.advance(26 * DAY_MS);
    await server.strongroom.scheduler.runOnce("renewals");
    const failures = async () =>
      (await events()).filter((e) => e.type === "CertificateRenewalFailed" && e.objectName === "doomed");
    expect(await failures()).toHaveLength(1);
    expect((await failures())[0]?.detail).toMatch(/No issuer adapter serves provider "NoSuchProvider"/);
    await server.strongroom.scheduler.runOnce("renewals");
    expect(await failures()).toHaveLength(1);
    clock.advance(20 * 60_000);
    await server.strongroom.scheduler.runOnce("renewals");
    expect(await failures()).toHaveLength(2);
  });

  it("backs off exponentially up to a day", () => {
    expect(retryDelayMs(0, () => 0)).toBe(15 * 60_000);
    expect(retryDelayMs(2, () => 0)).toBe(60 * 60_000);
    expect(retryDelayMs(20, () => 0)).toBe(24 * 3_600_000);
    expect(retryDelayMs(0, () => 1)).toBe(16.5 * 60_000);
  });
});

describe("key rotation policies", () => {
  const clock = fakeClock(new Date("2026-02-01T00:00:00Z"));
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
  });
  afterAll(() => server?.stop());

  const versions = async (name: string) =>
    ((await server.kv({ method: "GET", url: `/keys/${name}/versions?${V}` })).json().value as unknown[])
      .length;
  const rotate = () => server.strongroom.scheduler.runOnce("key-rotation");

  it("rotates once per period after creation and gives new versions the policy's expiry", async () => {
    await server.kv({ method: "POST", url: `/keys/rotated/create?${V}`, body: { kty: "EC" } });
    await server.kv({
      method: "PUT",
      url: `/keys/rotated/rotationpolicy?${V}`,
      body: {
        lifetimeActions: [{ trigger: { timeAfterCreate: "P30D" }, action: { type: "Rotate" } }],
        attributes: { expiryTime: "P90D" },
      },
    });
    clock.advance(29 * DAY_MS);
    await rotate();
    expect(await versions("rotated")).toBe(1);
    clock.advance(2 * DAY_MS);
    await rotate();
    await rotate();
    expect(await versions("rotated")).toBe(2);
    const latest = (await server.kv({ method: "GET", url: `/keys/rotated?${V}` })).json();
    expect(latest.attributes.exp - latest.attributes.created).toBe(90 * 86_400);
    clock.advance(31 * DAY_MS);
    await rotate();
    expect(await versions("rotated")).toBe(3);
  });

  it("rotates a set time before expiry, and each new version expires after the policy's expiryTime", async () => {
    const exp = Math.floor(clock.now().getTime() / 1000) + 60 * 86_400;
    await server.kv({
      method: "POST",
      url: `/keys/expiring/create?${V}`,
      body: { kty: "EC", attributes: { exp } },
    });
    const policy = await server.kv({
      method: "PUT",
      url: `/keys/expiring/rotationpolicy?${V}`,
      body: {
        lifetimeActions: [{ trigger: { timeBeforeExpiry: "P30D" }, action: { type: "Rotate" } }],
        attributes: { expiryTime: "P90D" },
      },
    });
    expect(policy.statusCode).toBe(200);
    clock.advance(29 * DAY_MS);
    await rotate();
    expect(await versions("expiring")).toBe(1);
    clock.advance(2 * DAY_MS);
    await rotate();
    await rotate();
    expect(await versions("expiring")).toBe(2);
    const latest = (await server.kv({ method: "GET", url: `/keys/expiring?${V}` })).json();
    expect(latest.attributes.exp - latest.attributes.created).toBe(90 * 86_400);
    // The new version is due 30 days before its own expiry: 60 days on, not 30.
    clock.advance(59 * DAY_MS);
    await rotate();
    expect(await versions("expiring")).toBe(2);
    clock.advance(2 * DAY_MS);
    await rotate();
    expect(await versions("expiring")).toBe(3);
  });

  it("raises KeyNearExpiry once for a Notify action", async () => {
    const exp = Math.floor(clock.now().getTime() / 1000) + 20 * 86_400;
    await server.kv({
      method: "POST",
      url: `/keys/noticed/create?${V}`,
      body: { kty: "EC", attributes: { exp } },
    });
    await server.kv({
      method: "PUT",
      url: `/keys/noticed/rotationpolicy?${V}`,
      body: { lifetimeActions: [{ trigger: { timeBeforeExpiry: "P7D" }, action: { type: "Notify" } }] },
    });
    clock.advance(14 * DAY_MS);
    await rotate();
    await rotate();
    const events = await createSqlEventStore(server.strongroom.core.storage).after(0, 10_000);
    const notices = events.filter((e) => e.objectName === "noticed" && e.type === "KeyNearExpiry");
    expect(notices).toHaveLength(1);
    expect(await versions("noticed")).toBe(1);
  });
});
