import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCertificateBundleCodec } from "../../src/crypto/certificate-bundle-codec.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createPkcs11KeyProtector } from "../../src/crypto/pkcs11-key-protector.js";
import { createPublicKeyCrypto } from "../../src/crypto/public-key-crypto.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { createX509Factory } from "../../src/crypto/x509-factory.js";
import { createCertificateService } from "../../src/domain/certificates/certificate-service.js";
import type { PolicyInput } from "../../src/domain/certificates/policy.js";
import { systemClock } from "../../src/domain/clock.js";
import { createKeyService } from "../../src/domain/keys/key-service.js";
import type { VersionedObject } from "../../src/domain/objects/model.js";
import type { VersionedStore } from "../../src/domain/objects/ports.js";
import { createSecretService } from "../../src/domain/secrets/secret-service.js";
import { createVaultService } from "../../src/domain/vaults/vault-service.js";
import { createSqlCertificateStore } from "../../src/storage/sql-certificate-store.js";
import { createSqlKeyStore } from "../../src/storage/sql-key-store.js";
import { createSqlSecretStore } from "../../src/storage/sql-secret-store.js";
import { createSqlVaultStore } from "../../src/storage/sql-vault-store.js";
import { backends, dumpAllRows, openFreshStorage } from "../support/backends.js";
import { failNextInsertInto } from "../support/faults.js";
import { tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, type SoftHsmToken, softHsmAvailable, tokenObjects } from "../support/softhsm.js";

const subtle = webcrypto.subtle;
const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64")}\n-----END ${label}-----\n`;

/** A certificate for the CSR's key, signed by a throwaway CA, as a CA would answer the request. */
async function signCsr(csr: Buffer): Promise<Buffer> {
  const ca = await subtle.generateKey(ecdsa, false, ["sign", "verify"]);
  const request = new x509.Pkcs10CertificateRequest(Buffer.from(csr));
  const certificate = await x509.X509CertificateGenerator.create({
    subject: request.subject,
    issuer: "CN=Fault CA",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: request.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  return Buffer.from(certificate.rawData);
}

/** PEM text with a fresh P-256 key and its self-signed certificate, as an import brings them. */
async function keyAndCertificatePem(): Promise<string> {
  const keys = await subtle.generateKey(ecdsa, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=imported.example",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  return (
    pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)) +
    pem("CERTIFICATE", certificate.rawData)
  );
}

const protections = [
  { name: "software", hsm: false, kty: "EC" },
  { name: "HSM", hsm: true, kty: "EC-HSM" },
] as const;

describe.each(backends.filter((b) => b.available))("nothing is half-stored on $engine", (backend) => {
  const work = tempDataDir();
  let token: SoftHsmToken | undefined;
  const disposers: (() => Promise<void> | void)[] = [];

  beforeAll(() => {
    if (!softHsmAvailable) return;
    token = createSoftHsmToken(work.dir, `faults-${backend.engine}`);
    // SoftHSM2 reads its configuration when the module is initialised, in this process too.
    process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
  });
  afterEach(async () => {
    for (const dispose of disposers.splice(0).reverse()) await dispose();
  });
  afterAll(() => work.remove());

  /** The real services over a fresh database, the certificate store's writes able to fail on demand. */
  async function services(hsm: boolean) {
    const { storage, dispose } = await openFreshStorage(backend);
    disposers.push(dispose);
    const sealer = createAesGcmSealer(masterKeyFrom(randomBytes(32)));
    const protector =
      hsm && token
        ? createPkcs11KeyProtector({ module: token.module, tokenLabel: token.label, pin: token.pin })
        : undefined;
    if (protector) disposers.push(() => protector.close());
    const keys = createKeyService({
      store: createSqlKeyStore(storage),
      software: createSoftwareKeyProtector(sealer),
      hsm: protector,
      publicCrypto: createPublicKeyCrypto(),
      sealer,
      clock: systemClock,
    });
    const fault = failNextInsertInto("events");
    const store = createSqlCertificateStore({ ...storage, db: storage.db.withPlugin(fault.plugin) });
    // A create writes only its operation (compiled once, so the plugin cannot fail it): fail it here.
    const operationFault = { armed: false };
    const certificates = createCertificateService({
      store: {
        ...store,
        putOperation(operation) {
          if (!operationFault.armed) return store.putOperation(operation);
          operationFault.armed = false;
          return Promise.reject(new Error("injected failure: operation write"));
        },
      },
      keys: keys.certificateKeys,
      x509: createX509Factory(),
      codec: createCertificateBundleCodec(),
      sealer,
      clock: systemClock,
    });
    const vaults = createVaultService({ store: createSqlVaultStore(storage), clock: systemClock });
    const vault = await vaults.create("faults", { sku: "premium" });
    return {
      certificates,
      keys,
      sealer,
      vault,
      fault,
      operationFault,
      storage,
      /** Every row of the database, and the token's object count when there is an HSM. */
      state: async () => ({
        rows: await dumpAllRows(storage),
        hsmObjects: protector && token ? tokenObjects(token) : undefined,
      }),
    };
  }

  describe.each(protections)("with $name keys", ({ hsm, kty }) => {
    const policy = (issuer: string): PolicyInput => ({
      key: { kty, curve: "P-256" },
      subject: "CN=faults.example",
      issuer: { name: issuer },
    });

    it.skipIf(hsm && !softHsmAvailable)(
      "leaves no key, secret, certificate, operation or token object when a Self create's transaction fails",
      async () => {
        const { certificates, vault, operationFault, state } = await services(hsm);
        const before = await state();
        operationFault.armed = true;
        await expect(certificates.create(vault, "created", { policy: policy("Self") })).rejects.toThrow(
          /injected failure/,
        );
        expect(await state()).toEqual(before);
      },
    );

    it.skipIf(hsm && !softHsmAvailable)(
      "leaves a Self operation and its key as they were when the poll's issuing transaction fails, and completes it on the next poll",
      async () => {
        const { certificates, vault, fault, state } = await services(hsm);
        const pending = await certificates.create(vault, "polled", { policy: policy("Self") });
        expect(pending.status).toBe("inProgress");
        const before = await state();
        fault.arm();
        await expect(certificates.pollOperation(vault, "polled")).rejects.toThrow(/injected failure/);
        expect(await state()).toEqual(before);

        const completed = await certificates.pollOperation(vault, "polled");
        expect(completed.status).toBe("completed");
        expect((await certificates.get(vault, "polled")).version).toBe(pending.keyVersion);
        expect((await state()).hsmObjects).toBe(before.hsmObjects);
      },
    );

    it.skipIf(hsm && !softHsmAvailable)(
      "leaves the pending operation and its key as they were when a merge's transaction fails, so the merge can be retried",
      async () => {
        const { certificates, vault, fault, state } = await services(hsm);
        const pending = await certificates.create(vault, "merged", { policy: policy("Unknown") });
        const signed = await signCsr(pending.csr);
        const before = await state();
        fault.arm();
        await expect(certificates.merge(vault, "merged", [signed], {})).rejects.toThrow(/injected failure/);
        expect(await state()).toEqual(before);

        const merged = await certificates.merge(vault, "merged", [signed], {});
        expect(merged.version).toBe(pending.keyVersion);
        expect((await state()).hsmObjects).toBe(before.hsmObjects);
      },
    );

    it.skipIf(hsm && !softHsmAvailable)(
      "leaves no key, secret, certificate or token object when an import's transaction fails",
      async () => {
        const { certificates, vault, fault, state } = await services(hsm);
        const value = await keyAndCertificatePem();
        const before = await state();
        fault.arm();
        await expect(
          certificates.import(vault, "imported", {
            value,
            policy: { key: { kty, curve: "P-256" }, contentType: "application/x-pem-file" },
          }),
        ).rejects.toThrow(/injected failure/);
        expect(await state()).toEqual(before);
      },
    );
  });

  it("refuses a plain key or secret version written over a certificate that took the name meanwhile", async () => {
    const { certificates, vault, storage } = await services(false);
    await certificates.create(vault, "raced", {
      policy: { key: { kty: "EC", curve: "P-256" }, subject: "CN=raced.example", issuer: { name: "Self" } },
    });
    await certificates.pollOperation(vault, "raced");
    // What a key create or secret set that checked the name before the certificate existed then
    // writes: a version that no certificate manages.
    async function refusesPlainVersion<S extends VersionedObject>(store: VersionedStore<S, S>) {
      const latest = await store.findLatest(vault.id, "raced");
      if (!latest?.managed) throw new Error("the certificate made no managed version");
      await expect(
        store.addVersion({ ...latest, version: "0".repeat(32), managed: false }),
      ).rejects.toMatchObject({
        code: "Forbidden",
        message: expect.stringMatching(/managed by certificate raced, created meanwhile/),
      });
      expect((await store.findLatest(vault.id, "raced"))?.version).toBe(latest.version);
    }
    await refusesPlainVersion(createSqlKeyStore(storage));
    await refusesPlainVersion(createSqlSecretStore(storage));
  });

  it.skipIf(backend.engine !== "postgres")(
    "refuses, retryably and storing nothing, a version whose name another transaction gave a version meanwhile",
    async () => {
      const { certificates, vault, storage, state } = await services(false);
      const policy: PolicyInput = {
        key: { kty: "EC", curve: "P-256" },
        subject: "CN=concurrent.example",
        issuer: { name: "Self" },
      };
      await certificates.create(vault, "concurrent", { policy });
      await certificates.pollOperation(vault, "concurrent");
      const other = "f".repeat(32);
      let second: Promise<unknown> | undefined;
      // Another transaction gives the certificate, its key and its secret a version and holds their
      // rows while this service stores its own, then commits: PostgreSQL lets the waiting upsert see
      // the new rows, its check of the latest version does not.
      await storage.db.transaction().execute(async (trx) => {
        await sql`insert into object_versions (vault_id, collection, name_key, version, payload, properties,
            tags, enabled, not_before, expires_at, managed, created_at, updated_at)
          select v.vault_id, v.collection, v.name_key, ${other}, v.payload, v.properties, v.tags, v.enabled,
            v.not_before, v.expires_at, v.managed, v.created_at, v.updated_at
          from object_versions v join objects o on o.vault_id = v.vault_id and o.collection = v.collection
            and o.name_key = v.name_key and o.latest_version = v.version
          where v.vault_id = ${vault.id} and v.name_key = 'concurrent'`.execute(trx);
        await sql`update objects set latest_version = ${other}
          where vault_id = ${vault.id} and name_key = 'concurrent'`.execute(trx);
        second = certificates
          .create(vault, "concurrent", { policy })
          .then(() => certificates.pollOperation(vault, "concurrent"))
          .catch((error: unknown) => error);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      });
      const before = await state();
      expect(await second).toMatchObject({
        code: "Conflict",
        message:
          "Certificate concurrent was changed by another request while this one was being stored; try again",
      });
      expect(await state()).toEqual(before);
    },
  );

  it("refuses a certificate over a key or a secret of its name that no certificate manages, storing nothing", async () => {
    const { certificates, keys, sealer, vault, storage, state } = await services(false);
    await keys.create(vault, "taken-key", { kty: "EC", curve: "P-256" });
    await createSecretService({ store: createSqlSecretStore(storage), sealer, clock: systemClock }).set(
      vault,
      "taken-secret",
      { value: "someone else's" },
    );
    const before = await state();
    for (const [name, noun] of [
      ["taken-key", "key"],
      ["taken-secret", "secret"],
    ]) {
      await expect(
        certificates.create(vault, name as string, {
          policy: {
            key: { kty: "EC", curve: "P-256" },
            subject: "CN=taken.example",
            issuer: { name: "Self" },
          },
        }),
      ).rejects.toMatchObject({
        code: "Conflict",
        message: `A ${noun} named ${name} already exists and is not managed by a certificate; choose another certificate name`,
      });
    }
    expect(await state()).toEqual(before);
  });

  it.skipIf(!softHsmAvailable)(
    "destroys the token objects of every version and of a renewal waiting for its merge when the certificate is purged",
    async () => {
      const { certificates, vault, state } = await services(true);
      const before = await state();
      const hsmPolicy = (issuer: string): PolicyInput => ({
        key: { kty: "EC-HSM", curve: "P-256" },
        subject: "CN=purged.example",
        issuer: { name: issuer },
      });
      await certificates.create(vault, "purged", { policy: hsmPolicy("Self") });
      expect((await certificates.pollOperation(vault, "purged")).status).toBe("completed");
      const renewal = await certificates.create(vault, "purged", { policy: hsmPolicy("Unknown") });
      expect(renewal.status).toBe("inProgress");
      expect((await state()).hsmObjects).toBeGreaterThan(before.hsmObjects ?? 0);

      await certificates.remove(vault, "purged");
      await certificates.purge(vault, "purged");
      expect((await state()).hsmObjects).toBe(before.hsmObjects);
    },
  );
});
