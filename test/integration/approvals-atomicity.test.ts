import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCertificateBundleCodec } from "../../src/crypto/certificate-bundle-codec.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createPublicKeyCrypto } from "../../src/crypto/public-key-crypto.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { createX509Factory } from "../../src/crypto/x509-factory.js";
import { createApprovalService } from "../../src/domain/approvals/approval-service.js";
import { createCertificateService } from "../../src/domain/certificates/certificate-service.js";
import type { PolicyInput } from "../../src/domain/certificates/policy.js";
import { systemClock } from "../../src/domain/clock.js";
import { createKeyService } from "../../src/domain/keys/key-service.js";
import { createVaultService } from "../../src/domain/vaults/vault-service.js";
import { createSqlApprovalStore } from "../../src/storage/sql-approval-store.js";
import { createSqlCertificateStore } from "../../src/storage/sql-certificate-store.js";
import { createSqlKeyStore } from "../../src/storage/sql-key-store.js";
import { createSqlVaultStore } from "../../src/storage/sql-vault-store.js";
import { backends, dumpAllRows, openFreshStorage } from "../support/backends.js";
import { failNextInsertInto } from "../support/faults.js";

const policy: PolicyInput = {
  key: { kty: "EC", curve: "P-256" },
  subject: "CN=*.held.example",
  sans: { dnsNames: ["*.held.example"] },
  issuer: { name: "Self" },
};

describe.each(backends.filter((b) => b.available))(
  "a held create and its approval request on $engine",
  (backend) => {
    const disposers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const dispose of disposers.splice(0)) await dispose();
    });

    /** The real services over a fresh database, the certificate store's writes able to fail on demand. */
    async function services() {
      const { storage, dispose } = await openFreshStorage(backend);
      disposers.push(dispose);
      const sealer = createAesGcmSealer(masterKeyFrom(randomBytes(32)));
      const keys = createKeyService({
        store: createSqlKeyStore(storage),
        software: createSoftwareKeyProtector(sealer),
        publicCrypto: createPublicKeyCrypto(),
        sealer,
        clock: systemClock,
      });
      const fault = failNextInsertInto("events");
      const approvals = createApprovalService({
        store: createSqlApprovalStore(storage),
        clock: systemClock,
        expiresAfterMs: 3_600_000,
      });
      const certificates = createCertificateService({
        store: createSqlCertificateStore({ ...storage, db: storage.db.withPlugin(fault.plugin) }),
        keys: keys.certificateKeys,
        x509: createX509Factory(),
        codec: createCertificateBundleCodec(),
        sealer,
        clock: systemClock,
        approval: { service: approvals, requirements: async () => [{ approvals: 1, wildcards: true }] },
      });
      const vault = await createVaultService({
        store: createSqlVaultStore(storage),
        clock: systemClock,
      }).create("held");
      return { certificates, approvals, vault, fault, rows: () => dumpAllRows(storage) };
    }

    it("stores neither the operation nor its approval request when the transaction fails after both were written", async () => {
      const { certificates, vault, fault, rows } = await services();
      const before = await rows();
      fault.arm();
      await expect(certificates.create(vault, "held", { policy, requester: "someone" })).rejects.toThrow(
        /injected failure/,
      );
      expect(await rows()).toBe(before);
    });

    it("stores both, the request naming the operation, when it succeeds", async () => {
      const { certificates, approvals, vault } = await services();
      const operation = await certificates.create(vault, "held", { policy, requester: "someone" });
      const [request] = await approvals.list({ state: "pending" });
      expect(operation.approvalId).toBe(request?.id);
      expect(request?.payload).toMatchObject({ name: "held", requestId: operation.requestId });
    });

    it("keeps the request pending when withdrawing it fails with the cancellation", async () => {
      const { certificates, approvals, vault, fault, rows } = await services();
      const operation = await certificates.create(vault, "held", { policy, requester: "someone" });
      const before = await rows();
      fault.arm();
      await expect(certificates.cancelOperation(vault, "held")).rejects.toThrow(/injected failure/);
      expect(await rows()).toBe(before);
      expect((await approvals.get(operation.approvalId as string)).state).toBe("pending");
    });
  },
);
