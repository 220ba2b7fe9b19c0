import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlEventStore } from "../../src/storage/sql-event-store.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr, opensslSelfSigned } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";
import { deliveredToEverySubscription } from "../support/subscriptions.js";

const V = "api-version=7.6";
const DAY = 86_400_000;
const sha256 = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");
const derOf = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

describe("the inventory, fed by the vault and the private CA without a scan", () => {
  const clock = fakeClock(new Date("2026-06-01T00:00:00Z"));
  const work = tempDataDir();
  let server: InProcess;
  const core = () => server.strongroom.core;
  const runJob = () => server.strongroom.scheduler.runOnce("inventory");
  const admin = async (
    method: "GET" | "PUT",
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    server.strongroom.app.inject({
      method,
      url,
      ...(body !== undefined && { payload: body as Record<string, unknown> }),
      headers: { authorization: `Bearer ${await server.token()}`, ...headers },
    });
  const createSelfSigned = async (name: string, tags?: Record<string, string>) => {
    const res = await server.createCertificate(name, {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: {
          subject: `CN=${name}.internal`,
          validity_months: 12,
          sans: { dns_names: [`${name}.internal`] },
        },
      },
      ...(tags && { tags }),
    });
    expect(res.statusCode, res.body).toBe(202);
    return completed(name);
  };
  /** Polls the operation, which issues the certificate, as the SDK's poller does. */
  const completed = async (name: string) => {
    const polled = await server.kv({ method: "GET", url: `/certificates/${name}/pending?${V}` });
    expect(polled.json().status, polled.body).toBe("completed");
    return polled.json();
  };
  const versionDer = async (name: string) =>
    new Uint8Array(
      Buffer.from(
        (await server.kv({ method: "GET", url: `/certificates/${name}?${V}` })).json().cer,
        "base64",
      ),
    );

  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
    // Made before the inventory's first run: the backfill must find it.
    await createSelfSigned("before", { team: "payments", app: "checkout" });
    await core().ca.createRoot({ name: "root", subject: "CN=Inventory Root" });
    await core().ca.createIntermediate({
      name: "issuing",
      parent: "root",
      subject: "CN=Inventory Issuing",
      validityDays: 1000,
    });
    const issuer = await server.kv({
      method: "PUT",
      url: `/certificates/issuers/corp?${V}`,
      body: { provider: "PrivateCA", credentials: { account_id: "issuing" } },
    });
    expect(issuer.statusCode).toBe(200);
  });

  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it("backfills on its first run what the vault held before, with the owner its tags name", async () => {
    expect(await runJob()).toMatch(/^backfilled 1 certificates/);
    const record = await core().inventory.show(sha256(await versionDer("before")));
    const { id } = (await server.kv({ method: "GET", url: `/certificates/before?${V}` })).json();
    const version = String(id).split("/").at(-1);
    expect(record.locations.map((l) => [l.uri, l.source])).toEqual([
      [`vault://default/certificates/before/${version}`, "vault"],
    ]);
    expect(record.owner).toEqual({ team: "payments", application: "checkout", origin: "tags" });
  });

  it("takes in a certificate the private CA issues for a vault: one record, in the vault and at the CA, linked to its issuer", async () => {
    const created = await server.createCertificate("svc", {
      policy: {
        issuer: { name: "corp" },
        key_props: { kty: "EC" },
        x509_props: {
          subject: "CN=svc.internal",
          validity_months: 1,
          sans: { dns_names: ["svc.internal"] },
        },
      },
    });
    expect(created.statusCode, created.body).toBe(202);
    await completed("svc");
    await runJob();
    const der = await versionDer("svc");
    const record = await core().inventory.show(sha256(der));
    const issued = (await core().ca.listIssued("issuing")).find((i) => i.vault?.name === "svc");
    expect(record.locations.map((l) => l.source).sort()).toEqual(["ca", "vault"]);
    expect(record.locations.find((l) => l.source === "ca")?.uri).toBe(`ca://issuing/${issued?.serial}`);
    const issuing = await core().ca.get("issuing");
    expect(record.issuerFingerprintSha256).toBe(sha256(issuing.certificate as Buffer));
  });

  it("takes in what the CA signs from a CSR outside any vault", async () => {
    opensslCsr(
      join(work.dir, "edge.key"),
      join(work.dir, "edge.csr"),
      "/CN=edge.internal",
      "DNS:edge.internal",
    );
    const pem = readFileSync(join(work.dir, "edge.csr"), "utf8");
    const csr = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    const { issued } = await core().ca.signCsr("issuing", csr, { validityDays: 10 });
    await runJob();
    const found = await core().inventory.list({ san: "edge.internal" });
    expect(found.items.map((i) => i.fingerprintSha256)).toEqual([sha256(issued.der)]);
    expect(found.items[0]?.locations.map((l) => l.uri)).toEqual([`ca://issuing/${issued.serial}`]);
  });

  it("keeps one certificate imported under two names and served over TLS as one record with three locations", async () => {
    opensslSelfSigned(join(work.dir, "shared.key"), join(work.dir, "shared.pem"), "/CN=shared.example.com", {
      days: 90,
      subjectAltName: "DNS:shared.example.com",
    });
    const certPem = readFileSync(join(work.dir, "shared.pem"), "utf8");
    const value = readFileSync(join(work.dir, "shared.key"), "utf8") + certPem;
    for (const name of ["shared-a", "shared-b"]) {
      const res = await server.kv({
        method: "POST",
        url: `/certificates/${name}/import?${V}`,
        body: { value, policy: { secret_props: { contentType: "application/x-pem-file" } } },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    const der = derOf(certPem);
    await core().inventory.observe([
      { der, location: "tls://127.0.0.9:443?sni=shared.example.com", source: "tls", seenAt: clock.now() },
    ]);
    await runJob();
    const record = await core().inventory.show(sha256(der));
    expect(record.locations.map((l) => l.uri.replace(/\/[0-9a-f]{32}$/, "/…"))).toEqual([
      "tls://127.0.0.9:443?sni=shared.example.com",
      "vault://default/certificates/shared-a/…",
      "vault://default/certificates/shared-b/…",
    ]);
  });

  it("marks a deleted vault certificate's locations gone and live again when it is recovered", async () => {
    const der = await versionDer("svc");
    const deleted = await server.kv({ method: "DELETE", url: `/certificates/svc?${V}` });
    expect(deleted.statusCode).toBe(200);
    await runJob();
    const place = async (source: string) =>
      (await core().inventory.show(sha256(der))).locations.find((l) => l.source === source);
    expect((await place("vault"))?.goneAt).toEqual(clock.now());
    expect((await place("ca"))?.goneAt).toBeUndefined();
    expect((await core().inventory.list({ source: "vault", subject: "svc" })).items).toEqual([]);
    const recovered = await server.kv({ method: "POST", url: `/deletedcertificates/svc/recover?${V}` });
    expect(recovered.statusCode, recovered.body).toBe(200);
    await runJob();
    expect((await place("vault"))?.goneAt).toBeUndefined();
  });

  it("applies each outbox event once: its cursor is the newest event and a second run has nothing to do", async () => {
    await runJob();
    expect(await core().inventory.cursor("outbox")).toBe(
      await createSqlEventStore(core().storage).latestSeq(),
    );
    expect(await runJob()).toBe("applied 0 events");
  });

  it("never hands the inventory's own events to webhooks", async () => {
    const internal = (await createSqlEventStore(core().storage).after(0, 1000)).filter((e) =>
      ["CertificateDeleted", "CertificateRecovered", "CaCertificateIssued"].includes(e.type),
    );
    expect(internal.length).toBeGreaterThanOrEqual(3);
    expect(deliveredToEverySubscription(internal, clock.now())).toEqual([]);
  });

  it("answers the admin API with filters, paging links, facets, CSV and the record's owner", async () => {
    const page = await admin("GET", "/admin/inventory?limit=2&facets=true");
    expect(page.statusCode, page.body).toBe(200);
    const body = page.json();
    expect(body.value).toHaveLength(2);
    expect(Object.keys(body.value[0])).toEqual(
      expect.arrayContaining([
        "fingerprintSha256",
        "subject",
        "issuer",
        "serialNumber",
        "notBefore",
        "notAfter",
        "keyType",
        "signatureAlgorithm",
        "sans",
        "selfSigned",
        "locations",
      ]),
    );
    expect(body.facets.total).toBe((await core().inventory.facets({})).total);
    const next = await admin("GET", body.nextLink);
    expect(next.statusCode).toBe(200);
    const firstTwo = body.value.map((i: { fingerprintSha256: string }) => i.fingerprintSha256);
    expect(
      next.json().value.some((i: { fingerprintSha256: string }) => firstTwo.includes(i.fingerprintSha256)),
    ).toBe(false);

    const soon = await admin("GET", "/admin/inventory?expiringWithin=15d&source=ca");
    expect(soon.json().value.map((i: { subject: string }) => i.subject)).toEqual(["CN=edge.internal"]);

    const csv = await admin("GET", "/admin/inventory?san=shared.example.com&format=csv");
    expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
    const lines = csv.body.trimEnd().split("\r\n");
    expect(lines[0]).toMatch(/^fingerprintSha256,subject,issuer,/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("tls://127.0.0.9:443?sni=shared.example.com");

    const fp = body.value[0].fingerprintSha256 as string;
    const owned = await admin("PUT", `/admin/inventory/${fp}/owner`, { team: "platform" });
    expect(owned.statusCode, owned.body).toBe(200);
    expect(owned.json().owner).toEqual({ team: "platform", origin: "record" });
    expect(
      (await admin("GET", "/admin/inventory?owner=platform"))
        .json()
        .value.map((i: { fingerprintSha256: string }) => i.fingerprintSha256),
    ).toEqual([fp]);
    clock.advance(DAY);
  });

  it("refuses bad input with Key Vault's error body and a 4xx, and writes nothing", async () => {
    const before = (await core().inventory.facets({})).total;
    for (const [url, status] of [
      ["/admin/inventory?expiringWithin=soon", 400],
      ["/admin/inventory?minKeySize=big", 400],
      ["/admin/inventory?source=ftp", 400],
      ["/admin/inventory?sort=issuer", 400],
      ["/admin/inventory?limit=5000", 400],
      ["/admin/inventory?cursor=bogus", 400],
      ["/admin/inventory?colour=red", 400],
      ["/admin/inventory/not-a-fingerprint", 400],
      [`/admin/inventory/${"ab".repeat(32)}`, 404],
    ] as const) {
      const res = await admin("GET", url);
      expect(res.statusCode, url).toBe(status);
      expect(typeof res.json().error.message, url).toBe("string");
    }
    const unowned = await admin("PUT", `/admin/inventory/${"ab".repeat(32)}/owner`, { team: "x" });
    expect(unowned.statusCode).toBe(404);
    const extra = await admin("PUT", `/admin/inventory/${"ab".repeat(32)}/owner`, { boss: "x" });
    expect(extra.statusCode).toBe(400);
    expect((await core().inventory.facets({})).total).toBe(before);
  });
});
