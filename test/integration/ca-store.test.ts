import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCaKeys } from "../../src/crypto/ca-keys.js";
import { createCaX509 } from "../../src/crypto/ca-x509.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { type CaService, createCaService } from "../../src/domain/ca/ca-service.js";
import { createCrlService } from "../../src/domain/ca/crl-service.js";
import { FULL_CRL } from "../../src/domain/ca/model.js";
import type { CaStore } from "../../src/domain/ca/ports.js";
import { DomainError } from "../../src/domain/errors.js";
import { pkiUrls } from "../../src/http/pki/pki-urls.js";
import { createSqlCaStore } from "../../src/storage/sql-ca-store.js";
import { backends, dumpAllRows, openFreshStorage } from "../support/backends.js";
import { fakeClock } from "../support/in-process.js";

async function csrFor(cn: string): Promise<Buffer> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(alg, false, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: cn }])],
  });
  return Buffer.from(csr.rawData);
}

describe.each(backends)("the private CA's storage on $engine", (backend) => {
  if (!backend.available) return;
  let dispose: () => Promise<void>;
  let storage: Awaited<ReturnType<typeof openFreshStorage>>["storage"];
  let store: CaStore;
  let ca: CaService;
  const clock = fakeClock();

  beforeAll(async () => {
    const fresh = await openFreshStorage(backend);
    dispose = fresh.dispose;
    storage = fresh.storage;
    store = createSqlCaStore(storage);
    const software = createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(randomBytes(32))));
    const keys = createCaKeys({ software });
    const x509 = createCaX509();
    const urls = pkiUrls(() => "http://pki.test");
    const crls = createCrlService({ store, keys, x509, clock, urls });
    ca = createCaService({ store, keys, x509, clock, urls, crls });
    await ca.createRoot({ name: "Root", subject: "CN=Store Root", pathLength: 1 });
    await ca.createIntermediate({
      name: "issuing",
      parent: "root",
      subject: "CN=Store Issuing",
      crlShards: 4,
    });
  });

  afterAll(async () => dispose?.());

  it("finds CAs by id and by name whatever its case, and refuses a second CA of the same name", async () => {
    const byName = await store.getAuthority("ROOT");
    expect(byName?.name).toBe("Root");
    expect((await store.getAuthority(byName?.id ?? ""))?.subject).toBe("CN=Store Root");
    expect((await store.listAuthorities()).map((c) => c.name).sort()).toEqual(["Root", "issuing"]);
    const issuing = await store.getAuthority("issuing");
    expect(issuing).toMatchObject({ parentId: byName?.id, pathLength: 0, crlShards: 4, status: "active" });
    expect(issuing?.chain).toHaveLength(1);
    expect(issuing?.responder?.generation).toBe(1);
    const error = await ca.createRoot({ name: "root", subject: "CN=Again" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("Conflict");
  });

  it("keeps CA keys sealed: no PKCS#8 private key is stored in the clear", async () => {
    const rows = await dumpAllRows(storage);
    // A PKCS#8 EC key starts 30 81 87 02 01 00 30 13 06 07 2a 86 48 ce 3d 02 01 in DER.
    expect(rows).not.toMatch(/020100301306072a8648ce3d0201/);
  });

  it("stores issued certificates with their issuer, shard and status, pages them and finds them by serial", async () => {
    const serials: string[] = [];
    for (let i = 0; i < 5; i++)
      serials.push((await ca.signCsr("issuing", await csrFor(`h${i}.example`), {})).issued.serial);
    const issuing = await store.getAuthority("issuing");
    const first = await store.listIssued(issuing?.id ?? "", 3);
    const rest = await store.listIssued(issuing?.id ?? "", 3, first.at(-1)?.serial);
    expect([...first, ...rest].map((i) => i.serial).sort()).toEqual([...serials].sort());
    const [found] = await store.findBySerial(serials[0] ?? "");
    expect(found).toMatchObject({ caId: issuing?.id, status: "good", subject: "CN=h0.example" });
    expect(found?.shard).toBeGreaterThanOrEqual(0);
    expect(found?.shard).toBeLessThan(4);
    expect(found?.der[0]).toBe(0x30);
  });

  it("changes status, lists revoked certificates per shard and numbers CRLs upwards", async () => {
    const issuing = await ca.get("issuing");
    const { issued } = await ca.signCsr("issuing", await csrFor("gone.example"), {});
    const before = await store.getCrl(issuing.id, FULL_CRL);
    await ca.revoke(issued, "keyCompromise");
    const stored = await store.getIssued(issuing.id, issued.serial);
    expect(stored).toMatchObject({ status: "revoked", reason: "keyCompromise" });
    expect(stored?.revokedAt?.getTime()).toBe(clock.now().getTime());
    expect((await store.revoked(issuing.id, issued.shard)).map((r) => r.serial)).toContain(issued.serial);
    expect((await store.revoked(issuing.id, (issued.shard + 1) % 4)).map((r) => r.serial)).not.toContain(
      issued.serial,
    );
    expect((await store.revoked(issuing.id, FULL_CRL)).map((r) => r.serial)).toContain(issued.serial);
    const after = await store.getCrl(issuing.id, FULL_CRL);
    expect(after?.number).toBeGreaterThan(before?.number ?? 0);
    // A CRL numbered lower than the stored one (another node's older work) never replaces it.
    await store.putCrl({ ...(after as NonNullable<typeof after>), number: 1, der: Buffer.from([0x30, 0]) });
    expect((await store.getCrl(issuing.id, FULL_CRL))?.number).toBe(after?.number);
    const numbers = new Set<number>();
    for (let i = 0; i < 10; i++) numbers.add(await store.nextCrlNumber(issuing.id));
    expect(numbers.size).toBe(10);
  });
});
