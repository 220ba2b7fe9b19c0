import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateFactsReader } from "../../src/crypto/certificate-facts-reader.js";
import { DomainError } from "../../src/domain/errors.js";
import {
  createInventoryService,
  type InventoryService,
} from "../../src/domain/inventory/inventory-service.js";
import type { InventoryQuery } from "../../src/domain/inventory/model.js";
import { createSqlInventoryStore } from "../../src/storage/sql-inventory-store.js";
import { backends, openFreshStorage } from "../support/backends.js";
import { fakeClock } from "../support/in-process.js";
import { type TestCertificate, testCertificate } from "../support/inventory-certs.js";

const DAY = 86_400_000;

describe.each(backends)("the inventory's storage on $engine", (backend) => {
  if (!backend.available) return;
  const clock = fakeClock();
  const now = clock.now().getTime();
  const seenAt = new Date(now - DAY);
  let dispose: () => Promise<void>;
  let inventory: InventoryService;
  let root: TestCertificate;
  let web: TestCertificate;
  let api: TestCertificate;
  let old: TestCertificate;
  let weak: TestCertificate;
  let legacy: TestCertificate;
  const fp = async (c: TestCertificate) => (await inventory.show(await sha256(c))).fingerprintSha256;
  const sha256 = async (c: TestCertificate) => createHash("sha256").update(c.der).digest("hex");
  const subjects = async (query: InventoryQuery) =>
    (await inventory.list({ limit: 1000, ...query })).items.map((i) => i.subject);

  beforeAll(async () => {
    const fresh = await openFreshStorage(backend);
    dispose = fresh.dispose;
    inventory = createInventoryService({
      store: createSqlInventoryStore(fresh.storage),
      reader: createCertificateFactsReader(),
      clock,
    });
    root = await testCertificate({
      subject: "CN=Example Root CA, O=Example",
      key: "P-384",
      notAfter: new Date(now + 3650 * DAY),
    });
    web = await testCertificate({
      subject: "CN=www.example.com, O=Example",
      issuer: root,
      notAfter: new Date(now + 20 * DAY),
      dns: ["www.example.com", "*.shop.example.com"],
    });
    api = await testCertificate({
      subject: "CN=api.example.org",
      key: "RSA-2048",
      issuer: root,
      notAfter: new Date(now + 60 * DAY),
      dns: ["api.example.org"],
    });
    old = await testCertificate({
      subject: "CN=old.example.net",
      notAfter: new Date(now - 5 * DAY),
      dns: ["old.example.net"],
    });
    weak = await testCertificate({
      subject: "CN=weak.internal",
      key: "RSA-1024",
      notAfter: new Date(now + 200 * DAY),
    });
    legacy = await testCertificate({
      subject: "CN=legacy.internal",
      key: "RSA-2048",
      sha1: true,
      notAfter: new Date(now + 300 * DAY),
    });
    await inventory.observe([
      {
        der: web.der,
        chain: [root.der],
        location: "tls://10.0.0.5:443?sni=www.example.com",
        source: "tls",
        seenAt,
      },
      { der: web.der, location: "file://agent-1/etc/nginx/web.pem", source: "file", seenAt },
      { der: web.der, location: "vault://default/certificates/web/v1", source: "vault", seenAt },
      { der: api.der, location: "tls://10.0.0.6:443", source: "tls", seenAt },
      { der: old.der, location: "akv://other.vault.azure.net/certificates/old/1", source: "akv", seenAt },
      { der: weak.der, location: "tls://10.0.1.7:8443", source: "tls", seenAt },
      { der: legacy.der, location: "file://agent-2/opt/app/legacy.pem", source: "file", seenAt },
    ]);
  });
  afterAll(() => dispose?.());

  it("keeps the same certificate seen in three places as one record with three locations", async () => {
    const record = await inventory.show(await sha256(web));
    expect(record.locations.map((l) => [l.uri, l.source])).toEqual([
      ["tls://10.0.0.5:443?sni=www.example.com", "tls"],
      ["file://agent-1/etc/nginx/web.pem", "file"],
      ["vault://default/certificates/web/v1", "vault"],
    ]);
    expect(record.locations.every((l) => l.firstSeenAt.getTime() === seenAt.getTime() && !l.goneAt)).toBe(
      true,
    );
    expect(record).toMatchObject({
      subject: "CN=www.example.com, O=Example",
      keyType: "EC",
      curve: "P-256",
      selfSigned: false,
    });
  });

  it("links a certificate to its issuer's record through the chain it was presented with", async () => {
    expect((await inventory.show(await sha256(web))).issuerFingerprintSha256).toBe(await sha256(root));
    // The API certificate arrived without its chain; the root was already held.
    expect((await inventory.show(await sha256(api))).issuerFingerprintSha256).toBe(await fp(root));
    expect((await inventory.show(await sha256(root))).selfSigned).toBe(true);
  });

  it("moves lastSeenAt forward and keeps firstSeenAt when a place is seen again", async () => {
    const later = new Date(now);
    await inventory.observe([{ der: api.der, location: "tls://10.0.0.6:443", source: "tls", seenAt: later }]);
    const [location] = (await inventory.show(await sha256(api))).locations;
    expect(location?.firstSeenAt).toEqual(seenAt);
    expect(location?.lastSeenAt).toEqual(later);
  });

  it("filters by expiry window, expiry, issuer, subject and SAN text", async () => {
    expect(await subjects({ expiringWithinMs: 30 * DAY })).toEqual(["CN=www.example.com, O=Example"]);
    expect(await subjects({ expiringWithinMs: 90 * DAY })).toEqual([
      "CN=www.example.com, O=Example",
      "CN=api.example.org",
    ]);
    expect(await subjects({ expired: true })).toEqual(["CN=old.example.net"]);
    expect(await subjects({ issuer: "example root" })).toEqual([
      "CN=www.example.com, O=Example",
      "CN=api.example.org",
      "CN=Example Root CA, O=Example",
    ]);
    expect(await subjects({ subject: "API" })).toEqual(["CN=api.example.org"]);
    expect(await subjects({ san: "example.com" })).toEqual(["CN=www.example.com, O=Example"]);
    expect(await subjects({ san: "shop.example.com" })).toEqual(["CN=www.example.com, O=Example"]);
    expect(await subjects({ san: "example.net" })).toEqual(["CN=old.example.net"]);
    expect(await subjects({ san: "nowhere.example" })).toEqual([]);
  });

  it("filters by key type, minimum key size, key size below a bound and signature algorithm", async () => {
    expect(await subjects({ keyType: "rsa" })).toEqual([
      "CN=api.example.org",
      "CN=weak.internal",
      "CN=legacy.internal",
    ]);
    expect(await subjects({ keyType: "RSA", minKeySize: 2048 })).toEqual([
      "CN=api.example.org",
      "CN=legacy.internal",
    ]);
    expect(await subjects({ keyType: "RSA", keySizeBelow: 2048 })).toEqual(["CN=weak.internal"]);
    expect(await subjects({ keyType: "RSA", keySizeBelow: 3072 })).toEqual([
      "CN=api.example.org",
      "CN=weak.internal",
      "CN=legacy.internal",
    ]);
    expect(await subjects({ signatureAlgorithm: "sha1WithRSAEncryption" })).toEqual(["CN=legacy.internal"]);
    expect(await subjects({ minKeySize: 384, keyType: "EC" })).toEqual(["CN=Example Root CA, O=Example"]);
  });

  it("filters by source and location prefix, counting only places still seen", async () => {
    expect(await subjects({ source: "file" })).toEqual([
      "CN=www.example.com, O=Example",
      "CN=legacy.internal",
    ]);
    expect(await subjects({ location: "tls://10.0.0." })).toEqual([
      "CN=www.example.com, O=Example",
      "CN=api.example.org",
    ]);
    expect(await subjects({ source: "tls", location: "tls://10.0.1." })).toEqual(["CN=weak.internal"]);
  });

  it("marks forgotten places gone, and drops the certificate from that source's matches and facet", async () => {
    const before = await inventory.facets({});
    await inventory.forget(["file://agent-2/opt/app/legacy.pem"], new Date(now));
    const record = await inventory.show(await sha256(legacy));
    expect(record.locations[0]?.goneAt).toEqual(new Date(now));
    expect(await subjects({ source: "file" })).toEqual(["CN=www.example.com, O=Example"]);
    const after = await inventory.facets({});
    const files = (f: typeof after) => f.source.find((s) => s.value === "file")?.count;
    expect(files(after)).toBe((files(before) ?? 0) - 1);
    await inventory.observe([
      {
        der: legacy.der,
        location: "file://agent-2/opt/app/legacy.pem",
        source: "file",
        seenAt: new Date(now),
      },
    ]);
    expect((await inventory.show(await sha256(legacy))).locations[0]?.goneAt).toBeUndefined();
    expect(files(await inventory.facets({}))).toBe(files(before));
  });

  it("sorts by subject and pages through every match with a cursor, without repeats", async () => {
    const all = await subjects({ sort: "subject" });
    expect(all).toEqual([...all].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    for (const sort of ["notAfter", "-notAfter", "subject"] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await inventory.list({ sort, limit: 2, cursor });
        seen.push(...page.items.map((i) => i.fingerprintSha256));
        cursor = page.next;
      } while (cursor);
      expect(seen).toHaveLength(6);
      expect(new Set(seen).size).toBe(6);
    }
    const newestFirst = (await inventory.list({ sort: "-notAfter" })).items.map((i) => i.notAfter.getTime());
    expect(newestFirst).toEqual([...newestFirst].sort((a, b) => b - a));
  });

  it("counts facets over the whole inventory and over a query's matches", async () => {
    const all = await inventory.facets({});
    expect(all.total).toBe(6);
    expect(all.keyType).toEqual(
      expect.arrayContaining([
        { value: "EC P-256", count: 2 },
        { value: "EC P-384", count: 1 },
        { value: "RSA 2048", count: 2 },
        { value: "RSA 1024", count: 1 },
      ]),
    );
    expect(all.source).toEqual(
      expect.arrayContaining([
        { value: "tls", count: 3 },
        { value: "file", count: 2 },
        { value: "vault", count: 1 },
        { value: "akv", count: 1 },
      ]),
    );
    expect(all.expiry).toEqual({ expired: 1, within30Days: 1, within90Days: 2 });
    const rsa = await inventory.facets({ keyType: "RSA" });
    expect(rsa.total).toBe(3);
    expect(rsa.signatureAlgorithm).toEqual(
      expect.arrayContaining([
        { value: "sha1WithRSAEncryption", count: 1 },
        { value: "sha256WithRSAEncryption", count: 1 },
      ]),
    );
    expect(rsa.source).toEqual(expect.arrayContaining([{ value: "tls", count: 2 }]));
  });

  it("takes owners from tags until one is set on the record, which tags never replace", async () => {
    const location = "vault://default/certificates/web/v2";
    const observe = (team: string) =>
      inventory.apply([{ der: web.der, location, source: "vault", seenAt: new Date(now), owner: { team } }]);
    await observe("payments");
    expect((await inventory.show(await sha256(web))).owner).toEqual({ team: "payments", origin: "tags" });
    expect(await subjects({ owner: "Payments" })).toEqual(["CN=www.example.com, O=Example"]);
    await inventory.setOwner(await sha256(web), { team: "platform", contact: "ops@example.com" });
    await observe("checkout");
    expect((await inventory.show(await sha256(web))).owner).toMatchObject({
      team: "platform",
      origin: "record",
    });
    expect(await subjects({ owner: "payments" })).toEqual([]);
    expect(await subjects({ owner: "ops@example.com" })).toEqual(["CN=www.example.com, O=Example"]);
  });

  it("stores a feed cursor in the same change as the records", async () => {
    expect(await inventory.cursor("outbox")).toBeUndefined();
    await inventory.apply([], { cursor: { name: "outbox", value: 42 } });
    expect(await inventory.cursor("outbox")).toBe(42);
  });

  it("marks every location under a prefix gone, and revives them", async () => {
    await inventory.apply([], {
      gone: [{ uri: "vault://default/certificates/web/", prefix: true, at: new Date(now) }],
    });
    const vaultPlaces = async () =>
      (await inventory.show(await sha256(web))).locations
        .filter((l) => l.source === "vault")
        .map((l) => l.goneAt !== undefined);
    expect(await vaultPlaces()).toEqual([true, true]);
    expect(await subjects({ source: "vault" })).toEqual([]);
    await inventory.apply([], {
      revived: [{ prefix: "vault://default/certificates/web/", at: new Date(now) }],
    });
    expect(await vaultPlaces()).toEqual([false, false]);
    expect(await subjects({ source: "vault" })).toEqual(["CN=www.example.com, O=Example"]);
  });

  it("refuses bad input with BadParameter and unknown fingerprints with NotFound", async () => {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: unknown) => (e instanceof DomainError ? e.code : String(e)),
      );
    expect(await code(inventory.list({ cursor: "garbage" }))).toBe("BadParameter");
    const page = await inventory.list({ limit: 1 });
    expect(await code(inventory.list({ sort: "subject", cursor: page.next }))).toBe("BadParameter");
    expect(await code(inventory.list({ limit: 0 }))).toBe("BadParameter");
    expect(await code(inventory.list({ expired: true, expiringWithinMs: DAY }))).toBe("BadParameter");
    expect(await code(inventory.show("abc"))).toBe("BadParameter");
    expect(await code(inventory.show("0".repeat(64)))).toBe("NotFound");
    expect(
      await code(
        inventory.observe([{ der: new Uint8Array([1, 2, 3]), location: "tls://x:1", source: "tls", seenAt }]),
      ),
    ).toBe("BadParameter");
  });
});
