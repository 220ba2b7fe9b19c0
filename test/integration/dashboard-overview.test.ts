import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "../support/backends.js";
import { csrfOf, signInForm } from "../support/dashboard.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { testCertificate } from "../support/inventory-certs.js";

const DAY_MS = 86_400_000;
const PASSWORD = "a long enough passphrase";

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the dashboard's overview on ${backend.engine}`, () => {
    // Noon, so a certificate expiring "in n days" falls on the n-th UTC day from today.
    const clock = fakeClock(new Date("2026-08-01T12:00:00Z"));
    const days = (n: number) => new Date(clock.now().getTime() + n * DAY_MS);
    let server: InProcess;
    let drop: () => Promise<void>;
    let readerCookie = "";

    beforeAll(async () => {
      const database = await backend.createDatabase();
      drop = database.drop;
      server = await startInProcess({ clock, database: database.url, flags: { jobs: false } });
      const { core } = server.strongroom;
      const [soon, alsoSoon, later, lapsed, weak] = await Promise.all([
        testCertificate({ subject: "CN=soon.example", notAfter: days(3) }),
        testCertificate({ subject: "CN=also-soon.example", notAfter: days(3) }),
        testCertificate({ subject: "CN=later.example", notAfter: days(45) }),
        testCertificate({ subject: "CN=lapsed.example", notAfter: days(-2) }),
        testCertificate({ subject: "CN=weak.example", key: "RSA-1024", notAfter: days(200), sha1: true }),
      ]);
      const at = clock.now();
      await core.inventory.observe(
        [soon, alsoSoon, later, lapsed, weak].map((c, i) => ({
          der: c.der,
          location: `tls://10.0.0.${i + 1}:443`,
          source: "tls" as const,
          seenAt: at,
        })),
      );
      await core.grading.gradeAll(new AbortController().signal);
      await core.alerts.evaluate();
      const reader = await core.users.create("reader", PASSWORD);
      await core.access.assign(reader.principal.id, "Strongroom Reader", "/");
      readerCookie = (await signInForm(server, "reader", PASSWORD)).cookie ?? "";
      const created = await server.kv({
        method: "POST",
        url: "/admin/vaults",
        body: { name: "overview-made" },
      });
      expect(created.statusCode).toBe(201);
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
      await drop?.();
    });

    const overview = () =>
      server.kv({ method: "GET", url: "/admin/overview", auth: false, headers: { cookie: readerCookie } });

    it("counts the certificates, the expired and those expiring within 30 and 90 days", async () => {
      const o = (await overview()).json();
      expect(o).toMatchObject({ total: 5, expired: 1, expiringWithin30Days: 2, expiringWithin90Days: 3 });
    });

    it("gives 90 days of expiry timeline from today, with the count on each day", async () => {
      const { expiryTimeline } = (await overview()).json();
      expect(expiryTimeline).toHaveLength(90);
      expect(expiryTimeline[0]).toEqual({ date: "2026-08-01", count: 0 });
      expect(expiryTimeline.filter((d: { count: number }) => d.count > 0)).toEqual([
        { date: "2026-08-04", count: 2 },
        { date: "2026-09-15", count: 1 },
      ]);
    });

    it("counts open alerts by kind and open violations by rule", async () => {
      const o = (await overview()).json();
      expect(o.openAlertsByKind).toContainEqual({ kind: "expiring", count: 2 });
      expect(o.openAlertsByKind).toContainEqual({ kind: "expired", count: 1 });
      expect(o.violationsByRule).toContainEqual({ ruleId: "(built-in)", kind: "weak-algorithm", count: 1 });
    });

    it("lists recent changes newest first, with who made them, and leaves reads out", async () => {
      const { recentChanges } = (await overview()).json();
      expect(recentChanges[0]).toMatchObject({ operation: "VaultCreate", principalId: expect.any(String) });
      expect(recentChanges.map((c: { operation: string }) => c.operation)).not.toContain("Overview");
    });

    it("answers only a signed-in caller, and a session only with its cookie", async () => {
      const anonymous = await server.kv({ method: "GET", url: "/admin/overview", auth: false });
      expect(anonymous.statusCode).toBe(401);
      const page = await server.kv({
        method: "GET",
        url: "/ui/",
        auth: false,
        headers: { cookie: readerCookie },
      });
      expect(csrfOf(page.body)).not.toBe("");
      expect((await overview()).statusCode).toBe(200);
    });
  });
}
