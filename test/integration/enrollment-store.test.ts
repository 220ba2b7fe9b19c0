import "reflect-metadata";
import { randomBytes, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCaKeys } from "../../src/crypto/ca-keys.js";
import { createCaX509 } from "../../src/crypto/ca-x509.js";
import { createEnrollmentCrypto } from "../../src/crypto/enrollment-crypto.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { type ApprovalService, createApprovalService } from "../../src/domain/approvals/approval-service.js";
import { type CaService, createCaService } from "../../src/domain/ca/ca-service.js";
import { createCrlService } from "../../src/domain/ca/crl-service.js";
import {
  createEnrollmentService,
  type EnrollmentService,
} from "../../src/domain/enrollment/enrollment-service.js";
import { createProfileService, type ProfileService } from "../../src/domain/enrollment/profile-service.js";
import { DomainError } from "../../src/domain/errors.js";
import type { IssuanceGate } from "../../src/domain/rules/issuance-gate.js";
import { pkiUrls } from "../../src/http/pki/pki-urls.js";
import { createSqlApprovalStore } from "../../src/storage/sql-approval-store.js";
import { createSqlCaStore } from "../../src/storage/sql-ca-store.js";
import { createSqlEnrollmentStore } from "../../src/storage/sql-enrollment-store.js";
import { backends, dumpAllRows, openFreshStorage } from "../support/backends.js";
import { failNextInsertInto } from "../support/faults.js";
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

/** A gate that refuses one name, as the rules branch's gate would. */
const refusing: IssuanceGate = {
  async check(_entry, _scope, facts) {
    if (facts.sans.some((n) => n.value === "forbidden.example"))
      throw new DomainError("BadParameter", "rule no-forbidden refuses forbidden.example", {
        reason: "PolicyViolation",
      });
  },
};

describe.each(backends)("EST and SCEP enrollment storage on $engine", (backend) => {
  if (!backend.available) return;
  let dispose: () => Promise<void>;
  let storage: Awaited<ReturnType<typeof openFreshStorage>>["storage"];
  let ca: CaService;
  let profiles: ProfileService;
  let enrollment: EnrollmentService;
  let approvals: ApprovalService;
  const clock = fakeClock();
  // The CA's and the SCEP store's writes, able to fail as a node dying before its commit would.
  const fault = failNextInsertInto("events");
  const transactionFault = failNextInsertInto("scep_transactions");
  const signer = Buffer.from("a requester's self-signed certificate stands here");

  beforeAll(async () => {
    const fresh = await openFreshStorage(backend);
    dispose = fresh.dispose;
    storage = fresh.storage;
    const caStore = createSqlCaStore({ ...storage, db: storage.db.withPlugin(fault.plugin) });
    const sealer = createAesGcmSealer(masterKeyFrom(randomBytes(32)));
    const keys = createCaKeys({ software: createSoftwareKeyProtector(sealer) });
    const caX509 = createCaX509();
    const urls = pkiUrls(() => "http://pki.test");
    const crls = createCrlService({ store: caStore, keys, x509: caX509, clock, urls });
    ca = createCaService({ store: caStore, keys, x509: caX509, clock, urls, crls });
    await ca.createRoot({ name: "root", subject: "CN=Enrollment Root" });
    const store = createSqlEnrollmentStore({
      ...storage,
      db: storage.db.withPlugin(transactionFault.plugin),
    });
    const crypto = createEnrollmentCrypto();
    profiles = createProfileService({ store, ca, crypto, sealer, clock });
    approvals = createApprovalService({
      store: createSqlApprovalStore(storage),
      clock,
      expiresAfterMs: 86_400_000,
    });
    enrollment = createEnrollmentService({
      store,
      ca,
      x509: caX509,
      crypto,
      gate: refusing,
      clock,
      // No approval rules: only the "held" profile's own flag holds a request.
      approval: { service: approvals, requirements: async () => [] },
    });
    await profiles.create("est", { label: "devices", ca: "root", principals: ["client-a"] });
    await profiles.create("scep", { label: "phones", ca: "root", validityDays: 30 });
    await profiles.create("scep", { label: "held", ca: "root", approval: true });
  });

  afterAll(async () => dispose?.());

  it("keeps profiles per protocol, so an EST and a SCEP profile may share a label", async () => {
    const both = await profiles.create("scep", { label: "devices", ca: "root" });
    expect(both.kind).toBe("scep");
    expect((await profiles.get("est", "DEVICES")).principals).toEqual(["client-a"]);
    expect((await profiles.list("scep")).map((p) => p.label)).toEqual(["devices", "held", "phones"]);
    await profiles.remove("scep", "devices");
    await expect(profiles.get("scep", "devices")).rejects.toMatchObject({ code: "NotFound" });
  });

  it("refuses a second profile with the same label and kind", async () => {
    await expect(profiles.create("est", { label: "Devices", ca: "root" })).rejects.toMatchObject({
      code: "Conflict",
    });
  });

  it("gives a SCEP profile an RSA RA certificate from its CA and a sealed RA key", async () => {
    const phones = await profiles.get("scep", "phones");
    const ra = new X509Certificate(phones.ra?.certificate as Buffer);
    const root = new X509Certificate((await ca.get("root")).certificate as Buffer);
    expect(ra.verify(root.publicKey)).toBe(true);
    expect(ra.publicKey.asymmetricKeyType).toBe("rsa");
    const key = profiles.raKey(phones);
    expect(phones.ra?.sealedKey.includes(key.subarray(0, 64))).toBe(false);
    expect((await ca.findIssued(ra.serialNumber, "root")).subject).toBe("CN=SCEP RA phones");
  });

  it("admits a challenge password once, and stores only its hash", async () => {
    const phones = await profiles.get("scep", "phones");
    const { password } = await profiles.newChallenge("phones");
    expect(await dumpAllRows(storage)).not.toContain(password);
    const [first, second] = await Promise.allSettled([
      enrollment.scepRequest(phones, {
        transactionId: "t-1",
        csr: await csrFor("a.example"),
        signer,
        challenge: password,
      }),
      enrollment.scepRequest(phones, {
        transactionId: "t-2",
        csr: await csrFor("b.example"),
        signer,
        challenge: password,
      }),
    ]);
    const outcomes = [first, second].map((r) => r.status);
    expect(outcomes.sort()).toEqual(["fulfilled", "rejected"]);
  });

  it("refuses an expired challenge password", async () => {
    const phones = await profiles.get("scep", "phones");
    const { password } = await profiles.newChallenge("phones", 5);
    clock.advance(6 * 60_000);
    await expect(
      enrollment.scepRequest(phones, {
        transactionId: "t-3",
        csr: await csrFor("c.example"),
        signer,
        challenge: password,
      }),
    ).rejects.toMatchObject({ code: "Unauthorized" });
  });

  it("answers a retransmitted request with the certificate it issued, not a second one", async () => {
    const phones = await profiles.get("scep", "phones");
    const { password } = await profiles.newChallenge("phones");
    const csr = await csrFor("d.example");
    const first = await enrollment.scepRequest(phones, {
      transactionId: "t-4",
      csr,
      signer,
      challenge: password,
    });
    const again = await enrollment.scepRequest(phones, {
      transactionId: "t-4",
      csr,
      signer,
      challenge: password,
    });
    expect(first.status).toBe("issued");
    expect(again).toEqual(first);
    const polled = await enrollment.scepPoll(phones, "t-4");
    expect(polled).toEqual(first);
    const cert = new X509Certificate((first as { certificate: Buffer }).certificate);
    expect(cert.subject).toBe("CN=d.example");
    expect((await ca.findIssued(cert.serialNumber, "root")).status).toBe("good");
  });

  it("keeps a request pending where approval is required, and CertPoll reports it pending", async () => {
    const held = await profiles.get("scep", "held");
    const { password } = await profiles.newChallenge("held");
    const before = (await ca.listIssued("root", 1000)).length;
    const outcome = await enrollment.scepRequest(held, {
      transactionId: "t-5",
      csr: await csrFor("e.example"),
      signer,
      challenge: password,
    });
    expect(outcome).toEqual({ status: "pending" });
    expect(await enrollment.scepPoll(held, "t-5")).toEqual({ status: "pending" });
    expect((await ca.listIssued("root", 1000)).length).toBe(before);
    await expect(enrollment.scepPoll(held, "t-unknown")).rejects.toMatchObject({ code: "NotFound" });
  });

  /** A SCEP request the held profile kept pending, then approved; the CA's count of certificates. */
  async function approvedRequest(transactionId: string, cn: string) {
    const held = await profiles.get("scep", "held");
    const { password } = await profiles.newChallenge("held");
    const request = { transactionId, csr: await csrFor(cn), signer, challenge: password };
    expect(await enrollment.scepRequest(held, request)).toEqual({ status: "pending" });
    const approval = (await approvals.list({ state: "pending" })).find(
      (a) => (a.payload as { transactionId?: string }).transactionId === transactionId,
    );
    await approvals.approve(approval?.id as string, "approver-1", "fine");
    return {
      held,
      request,
      approvalId: approval?.id as string,
      issuedBefore: (await ca.listIssued("root", 1000)).length,
    };
  }

  it("signs an approved request again once the lease of a node that died before storing it runs out, issuing one certificate", async () => {
    const { held, request, approvalId, issuedBefore } = await approvedRequest("t-6", "f.example");

    fault.arm();
    await expect(enrollment.scepPoll(held, "t-6")).rejects.toThrow(/injected failure/);
    expect(await enrollment.scepPoll(held, "t-6")).toEqual({ status: "pending" });
    expect((await ca.listIssued("root", 1000)).length).toBe(issuedBefore);

    clock.advance(61_000);
    const signed = await enrollment.scepPoll(held, "t-6");
    expect(signed.status).toBe("issued");
    const cert = new X509Certificate((signed as { certificate: Buffer }).certificate);
    expect(cert.subject).toBe("CN=f.example");
    expect(await enrollment.scepRequest(held, request)).toEqual(signed);
    expect((await ca.listIssued("root", 1000)).length).toBe(issuedBefore + 1);
    expect((await approvals.get(approvalId)).issued?.serial).toBe(cert.serialNumber.toLowerCase());
  });

  it("answers with the certificate a node stored before dying, once its lease runs out, without signing again", async () => {
    const { held, approvalId, issuedBefore } = await approvedRequest("t-7", "g.example");

    transactionFault.arm();
    await expect(enrollment.scepPoll(held, "t-7")).rejects.toThrow(/injected failure/);
    expect((await ca.listIssued("root", 1000)).length).toBe(issuedBefore + 1);
    expect(await enrollment.scepPoll(held, "t-7")).toEqual({ status: "pending" });

    clock.advance(61_000);
    const answered = await enrollment.scepPoll(held, "t-7");
    const cert = new X509Certificate((answered as { certificate: Buffer }).certificate);
    expect(cert.serialNumber.toLowerCase()).toBe((await approvals.get(approvalId)).issued?.serial);
    expect((await ca.listIssued("root", 1000)).length).toBe(issuedBefore + 1);
  });

  it("asks the issuance gate before signing and writes nothing when it refuses", async () => {
    const devices = await profiles.get("est", "devices");
    const before = await dumpAllRows(storage);
    await expect(enrollment.enroll(devices, await csrFor("forbidden.example"))).rejects.toMatchObject({
      code: "BadParameter",
      reason: "PolicyViolation",
    });
    expect(await dumpAllRows(storage)).toEqual(before);
  });

  it("deletes a profile with its challenges and transactions", async () => {
    const gone = await profiles.create("scep", { label: "gone", ca: "root" });
    await profiles.newChallenge("gone");
    expect(await dumpAllRows(storage)).toContain(gone.id);
    await profiles.remove("scep", "gone");
    expect(await dumpAllRows(storage)).not.toContain(gone.id);
    await expect(profiles.remove("scep", "gone")).rejects.toMatchObject({ code: "NotFound" });
  });
});
