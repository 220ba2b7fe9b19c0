import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Core } from "../../src/main.js";
import { backends } from "../support/backends.js";
import { fakeClock } from "../support/in-process.js";
import { testCertificate } from "../support/inventory-certs.js";
import { openTestCore } from "../support/test-core.js";

const DAY_MS = 86_400_000;

async function rendered(core: Core, format: string) {
  const { contentType, body } = await core.posture.render(format);
  let text = "";
  for await (const piece of body) text += piece;
  return { contentType, text };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`posture report on ${backend.engine}`, () => {
    const clock = fakeClock(new Date("2026-08-01T00:00:00Z"));
    let close: () => Promise<void>;
    let core: Core;
    const days = (n: number) => new Date(clock.now().getTime() + n * DAY_MS);

    beforeAll(async () => {
      ({ core, close } = await openTestCore(backend, clock));
      const root = await testCertificate({ subject: "CN=Posture Root", key: "P-384", notAfter: days(3650) });
      const [web, legacy, api, lapsed, retired] = await Promise.all([
        testCertificate({ subject: "CN=web.example", key: "RSA-2048", issuer: root, notAfter: days(20) }),
        testCertificate({ subject: "CN=legacy.example", key: "RSA-1024", notAfter: days(400), sha1: true }),
        testCertificate({ subject: "CN=api.example", key: "P-256", issuer: root, notAfter: days(60) }),
        testCertificate({ subject: "CN=lapsed.example", key: "P-256", issuer: root, notAfter: days(-3) }),
        testCertificate({ subject: "CN=retired.example", key: "P-256", notAfter: days(100) }),
      ]);
      const at = clock.now();
      const seen = (der: Uint8Array, location: string, source: "tls" | "vault" | "file", team?: string) => ({
        der,
        location,
        source,
        seenAt: at,
        ...(team && { owner: { team } }),
      });
      await core.inventory.observe([
        seen(root.der, "file://edge-1/etc/ssl/root.pem", "file"),
        seen(web.der, "vault://prod/certificates/web/v1", "vault", "payments"),
        seen(web.der, "tls://10.0.0.1:443", "tls"),
        seen(legacy.der, "tls://10.0.0.2:443", "tls"),
        seen(api.der, "vault://prod/certificates/api/v1", "vault", "payments"),
        seen(lapsed.der, "vault://dev/certificates/lapsed/v1", "vault", "platform"),
        seen(retired.der, "tls://10.0.0.9:443", "tls"),
      ]);
      // A location no longer present takes its certificate out of the report.
      await core.inventory.forget(["tls://10.0.0.9:443"], at);
    }, 60_000);
    afterAll(() => close?.());

    it("counts certificates in use by key, signature, issuer, expiry, vault and owner", async () => {
      const r = await core.posture.report();
      expect(r.overall.total).toBe(5);
      expect(r.overall.byKeyAlgorithm).toEqual([
        { value: "EC P-256", count: 2 },
        { value: "EC P-384", count: 1 },
        { value: "RSA 1024", count: 1 },
        { value: "RSA 2048", count: 1 },
      ]);
      expect(r.overall.bySignatureAlgorithm).toContainEqual({ value: "sha1WithRSAEncryption", count: 1 });
      expect(r.overall.byIssuer[0]).toEqual({ value: "CN=Posture Root", count: 4 });
      expect(r.overall.byExpiry).toEqual({
        expired: 1,
        within7Days: 0,
        within30Days: 1,
        within90Days: 1,
        later: 2,
      });
      expect(r.byVault.map((v) => [v.vault, v.total])).toEqual([
        ["dev", 1],
        ["prod", 2],
      ]);
      expect(r.byOwner.map((o) => [o.owner, o.total])).toEqual([
        ["(no owner)", 2],
        ["payments", 2],
        ["platform", 1],
      ]);
    });

    it("lists every RSA and EC key for quantum migration: CA keys first, then the longest exposure", async () => {
      const { quantumReadiness } = await core.posture.report();
      expect(quantumReadiness.map((q) => [q.rank, q.subject, q.keyAlgorithm])).toEqual([
        [1, "CN=Posture Root", "EC P-384"],
        [2, "CN=legacy.example", "RSA 1024"],
        [3, "CN=api.example", "EC P-256"],
        [4, "CN=web.example", "RSA 2048"],
        [5, "CN=lapsed.example", "EC P-256"],
      ]);
      expect(quantumReadiness[3]?.locations.sort()).toEqual([
        "tls://10.0.0.1:443",
        "vault://prod/certificates/web/v1",
      ]);
    });

    it("renders JSON, CSV with a header per table, and a self-contained printable HTML page", async () => {
      const csv = (await rendered(core, "csv")).text;
      const [counts, quantum] = csv.split("\r\n\r\n") as [string, string];
      expect(counts.split("\r\n")[0]).toBe('"scope","group","section","value","count"');
      expect(counts).toContain('"vault","prod","keyAlgorithm","EC P-256","1"');
      expect(counts).toContain('"installation","","expiry","expired","1"');
      expect(quantum.split("\r\n")[0]).toBe(
        '"rank","fingerprint","subject","keyAlgorithm","isCa","notAfter","owner","locations"',
      );
      expect(quantum.trim().split("\r\n")).toHaveLength(6);

      const html = await rendered(core, "html");
      expect(html.contentType).toBe("text/html; charset=utf-8");
      expect(html.text).toMatch(/^<!doctype html>/);
      expect(html.text).toContain("<h2>Quantum readiness</h2>");
      expect(html.text).toContain("CN=legacy.example");
      expect(html.text).toContain("@media print");
      // Self-contained: nothing fetched from elsewhere when it is opened or printed.
      expect(html.text).not.toMatch(/<script|<link|src=|url\(/i);

      expect(JSON.parse((await rendered(core, "json")).text)).toEqual(
        JSON.parse(JSON.stringify(await core.posture.report(), null, 2)),
      );

      await expect(core.posture.render("pdf")).rejects.toThrow(/format must be one of json, csv, html/);
    });
  });
}
