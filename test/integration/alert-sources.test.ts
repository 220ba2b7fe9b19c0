import { webcrypto } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectEvent } from "../../src/domain/events/model.js";
import { type Core, jobList } from "../../src/main.js";
import { insertEvents } from "../../src/storage/sql-event-store.js";
import { backends } from "../support/backends.js";
import { fakeClock } from "../support/in-process.js";
import { pemWithKey, type TestCertificate, testCertificate } from "../support/inventory-certs.js";
import { openTestCore } from "../support/test-core.js";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`alert condition sources on ${backend.engine}`, () => {
    const clock = fakeClock(new Date("2026-07-01T00:00:00Z"));
    let close: () => Promise<void>;
    let core: Core;
    const open = async () => (await core.alerts.list({})).map((a) => `${a.kind} ${a.location}`).sort();

    beforeAll(async () => {
      ({ core, close } = await openTestCore(backend, clock));
      await core.vaults.create("default");
    }, 60_000);
    afterAll(() => close?.());

    it("raises agent-silent for an agent that stopped calling in, and resolves it when it calls again", async () => {
      const { agent } = await core.discovery.registerAgent("edge-1");
      await core.discovery.heartbeat(agent, { starting: true, hostname: "edge-1" });
      await core.alerts.evaluate();
      expect(await open()).toEqual([]);
      clock.advance(2 * HOUR_MS);
      await core.alerts.evaluate();
      expect(await open()).toEqual(["agent-silent agent://edge-1"]);
      await core.discovery.heartbeat(await core.discovery.agent("edge-1"), {});
      expect(await core.alerts.evaluate()).toMatchObject({ resolved: 1 });
      expect(await open()).toEqual([]);
    });

    it("raises changed when a location now serves another certificate, from every source that reports locations", async () => {
      const later = new Date(clock.now().getTime() + 365 * DAY_MS);
      const digest = async (c: TestCertificate) =>
        Buffer.from(await webcrypto.subtle.digest("SHA-256", c.der)).toString("hex");
      // A discovery run's TLS scan, an agent's file scan, a remote vault's sync: each observes
      // through the inventory, whose location upsert records the change.
      const places = [
        { source: "tls" as const, location: "tls://10.1.0.5:443?sni=shop.example" },
        { source: "file" as const, location: "file://edge-1/etc/ssl/shop.pem" },
        { source: "akv" as const, location: "akv://corp.vault.azure.net/certificates/shop/current" },
      ];
      const certs = await Promise.all(
        places.map(async () => {
          const [before, after] = await Promise.all([
            testCertificate({ subject: "CN=shop.example", notAfter: later }),
            testCertificate({ subject: "CN=shop.example", notAfter: later }),
          ]);
          return { before, after };
        }),
      );
      const observe = (pick: "before" | "after") =>
        core.inventory.observe(
          places.map((p, i) => ({
            der: (certs[i] as { before: TestCertificate; after: TestCertificate })[pick].der,
            location: p.location,
            source: p.source,
            seenAt: clock.now(),
          })),
        );
      await observe("before");
      await core.alerts.evaluate();
      expect(await core.alerts.list({ kind: "changed" })).toEqual([]);
      // Seen again unchanged: nothing changed.
      clock.advance(HOUR_MS);
      await observe("before");
      await core.alerts.evaluate();
      expect(await core.alerts.list({ kind: "changed" })).toEqual([]);

      clock.advance(HOUR_MS);
      await observe("after");
      await core.alerts.evaluate();
      const changed = (await core.alerts.list({ kind: "changed" })).sort((a, b) =>
        String(a.location).localeCompare(String(b.location)),
      );
      const expected = await Promise.all(
        places.map(async (p, i) => ({
          location: p.location,
          fingerprint: await digest((certs[i] as { after: TestCertificate }).after),
          subject: "CN=shop.example",
        })),
      );
      expect(changed).toMatchObject(expected.sort((a, b) => a.location.localeCompare(b.location)));
      const tls = changed.find((a) => a.location === places[0]?.location);
      expect(tls?.summary).toContain(
        `instead of ${(await digest((certs[0] as { before: TestCertificate }).before)).slice(0, 16)}`,
      );

      // Back to the old certificate: that is a change too, and the one before no longer holds.
      clock.advance(HOUR_MS);
      await observe("before");
      await core.alerts.evaluate();
      const fingerprints = async (state: "unresolved" | "resolved") =>
        (await core.alerts.list({ kind: "changed", state })).map((a) => a.fingerprint).sort();
      expect(await fingerprints("unresolved")).toEqual(
        (await Promise.all(certs.map((c) => digest(c.before)))).sort(),
      );
      expect(await fingerprints("resolved")).toEqual(
        (await Promise.all(certs.map((c) => digest(c.after)))).sort(),
      );
    });

    it("raises renewal-failed until a new version of the certificate is made", async () => {
      const vault = await core.vaults.get("default");
      const expires = new Date(clock.now().getTime() + 200 * DAY_MS);
      const first = await core.certificates.import(vault, "api", {
        value: await pemWithKey(await testCertificate({ subject: "CN=api.example", notAfter: expires })),
      });
      await jobList(core)
        .find((j) => j.name === "inventory")
        ?.run(new AbortController().signal);
      await insertEvents(core.storage.db, [
        objectEvent(
          "CertificateRenewalFailed",
          vault,
          "Certificate",
          first,
          clock.now(),
          "issuer unreachable",
        ),
      ]);
      await core.alerts.evaluate();
      const [failed] = await core.alerts.list({ kind: "renewal-failed" });
      expect(failed?.summary).toBe("Renewal of api in vault default failed: issuer unreachable");
      expect(failed?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      clock.advance(HOUR_MS);
      await core.certificates.import(vault, "api", {
        value: await pemWithKey(await testCertificate({ subject: "CN=api.example", notAfter: expires })),
      });
      await core.alerts.evaluate();
      expect(await core.alerts.list({ kind: "renewal-failed" })).toEqual([]);
    });

    it("opens expiring alerts at the days the rules set where each certificate is kept", async () => {
      await core.vaults.create("payments");
      await core.rules.set({ kind: "expiry-alert-days", value: [90, 45], vault: "payments" });
      const expires = new Date(clock.now().getTime() + 60 * DAY_MS);
      for (const vault of ["default", "payments"]) {
        await core.certificates.import(await core.vaults.get(vault), "renewing-soon", {
          value: await pemWithKey(
            await testCertificate({ subject: `CN=${vault}.example`, notAfter: expires }),
          ),
        });
      }
      await jobList(core)
        .find((j) => j.name === "inventory")
        ?.run(new AbortController().signal);
      await core.alerts.evaluate();
      // 60 days out: within the payments vault's 90, beyond the installation's default 30.
      expect(
        (await core.alerts.list({ kind: "expiring" })).map((a) => [a.subject, a.level, a.vaultName]),
      ).toEqual([["CN=payments.example", 90, "payments"]]);
      clock.advance(20 * DAY_MS);
      await core.alerts.evaluate();
      expect((await core.alerts.list({ kind: "expiring" })).map((a) => [a.subject, a.level])).toEqual([
        ["CN=payments.example", 45],
      ]);
      clock.advance(-20 * DAY_MS);
      for (const vault of ["default", "payments"])
        await core.certificates.remove(await core.vaults.get(vault), "renewing-soon");
      await jobList(core)
        .find((j) => j.name === "inventory")
        ?.run(new AbortController().signal);
      await core.alerts.evaluate();
      expect(await core.alerts.list({ kind: "expiring" })).toEqual([]);
    });

    it("raises findings alerts from the grading's inventory_findings, and resolves them with the finding", async () => {
      const weak = "ab".repeat(32);
      await sql`insert into inventory_findings
        (cert_id, finding_key, fingerprint_sha256, location_uri, kind, rule_id, reason, found_at, resolved_at) values
        (${1}, ${"w"}, ${weak}, ${null}, ${"weak-algorithm"}, ${null}, ${"RSA 1024 is below 2048 bits"}, ${0}, ${null}),
        (${1}, ${"v"}, ${weak}, ${"tls://10.1.0.9:443"}, ${"violation"}, ${"org-min-rsa"}, ${"key size 1024 < 2048"}, ${0}, ${null}),
        (${1}, ${"m"}, ${weak}, ${null}, ${"missing-intermediate"}, ${null}, ${"no chain"}, ${0}, ${null})`.execute(
        core.storage.db,
      );
      await core.alerts.evaluate();
      // Earlier cases leave their own kinds open; this one reads only the kinds findings raise.
      const findingKinds = /^(violation|weak-algorithm|unknown-ca|missing-intermediate) /;
      expect((await open()).filter((a) => findingKinds.test(a))).toEqual([
        "violation tls://10.1.0.9:443",
        "weak-algorithm ",
      ]);
      expect((await core.posture.report()).violationsByRule).toEqual([
        { ruleId: "(built-in)", kind: "missing-intermediate", count: 1 },
        { ruleId: "(built-in)", kind: "weak-algorithm", count: 1 },
        { ruleId: "org-min-rsa", kind: "violation", count: 1 },
      ]);
      await sql`update inventory_findings set resolved_at = 1 where kind = 'violation'`.execute(
        core.storage.db,
      );
      await core.alerts.evaluate();
      expect(await core.alerts.list({ kind: "violation", state: "resolved" })).toHaveLength(1);
      await sql`delete from inventory_findings`.execute(core.storage.db);
    });
  });
}
