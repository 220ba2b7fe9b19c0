import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { testCertificate } from "../support/inventory-certs.js";

const DAY = 86_400_000;
// More than one of the export's pages (1,000 rows), so the stream has to follow the cursor.
const COUNT = 1_203;

describe("GET /admin/inventory/export: every match as one CSV download", () => {
  const clock = fakeClock(new Date("2026-06-01T00:00:00Z"));
  let server: InProcess;
  const get = async (url: string) =>
    server.strongroom.app.inject({
      method: "GET",
      url,
      headers: { authorization: `Bearer ${await server.token()}` },
    });

  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
    const seenAt = clock.now();
    const made = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        testCertificate({
          subject: `CN=host-${i}.export.test`,
          // Every third one expires within 30 days.
          notAfter: new Date(seenAt.getTime() + (i % 3 === 0 ? 20 : 200) * DAY),
        }),
      ),
    );
    await server.strongroom.core.inventory.observe(
      made.map((c, i) => ({
        der: c.der,
        location: `tls://10.1.${i >> 8}.${i & 255}:443`,
        source: "tls" as const,
        seenAt,
      })),
    );
  }, 120_000);
  afterAll(() => server?.stop());

  it("streams the header and every matching row once, as a file to save, whatever the page size", async () => {
    const res = await get("/admin/inventory/export?expiringWithin=30d&limit=5");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/csv/);
    expect(res.headers["content-disposition"]).toBe('attachment; filename="inventory.csv"');
    const [header, ...rows] = res.body.trimEnd().split("\r\n");
    expect(header).toMatch(/^fingerprintSha256,subject,issuer,/);
    expect(rows).toHaveLength(Math.ceil(COUNT / 3));
    expect(new Set(rows.map((r) => r.split(",")[0])).size).toBe(rows.length);

    const all = (await get("/admin/inventory/export")).body.trimEnd().split("\r\n");
    expect(all).toHaveLength(COUNT + 1);
  });

  it("refuses a bad filter with 400 in Key Vault's error format before any row is sent", async () => {
    const res = await get("/admin/inventory/export?expiringWithin=soon");
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBeDefined();
  });
});
