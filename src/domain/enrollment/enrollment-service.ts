import type { ApprovalGate } from "../approvals/approval-service.js";
import type { ApprovalChange } from "../approvals/ports.js";
import type { ApprovalRequirement } from "../approvals/requirement.js";
import type { CaService } from "../ca/ca-service.js";
import type { CsrFacts, IssuedCertificate } from "../ca/model.js";
import type { CaX509 } from "../ca/ports.js";
import type { SubjectAlternativeNames } from "../certificates/model.js";
import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import type { SubjectAltName } from "../inventory/model.js";
import type { CertificateRequestFacts, IssuanceGate } from "../rules/issuance-gate.js";
import type { EnrollmentProfile, ScepTransaction } from "./model.js";
import type { EnrollmentCrypto, EnrollmentStore, PublicKeyFacts } from "./ports.js";

export interface EnrollmentServiceDeps {
  store: EnrollmentStore;
  ca: Pick<CaService, "get" | "signCsr" | "findIssued">;
  x509: Pick<CaX509, "readCsr" | "readCertificate">;
  crypto: EnrollmentCrypto;
  gate: IssuanceGate;
  clock: Clock;
  /** Holds the SCEP requests the approval rules (or the profile's own flag) match until approvers agree. */
  approval: ApprovalGate;
}

export type EnrollmentService = ReturnType<typeof createEnrollmentService>;

/** What a SCEP request came to: a certificate, or pending until it is approved. */
export type ScepOutcome =
  | { status: "issued"; certificate: Buffer }
  | { status: "pending" }
  | { status: "rejected"; reason: string };

/** A profile's own approval flag: every request waits for one approver. */
const PROFILE_APPROVAL: ApprovalRequirement = { approvals: 1 };

/** A SCEP PKCSReq or RenewalReq (RFC 8894 §3.3.1). */
export interface ScepEnrollment {
  transactionId: string;
  csr: Buffer;
  /** The certificate that signed the pkiMessage. */
  signer: Buffer;
  /** The challengePassword of a first enrollment; a renewal is authenticated by `renewing`. */
  challenge?: string | undefined;
  /** The certificate, issued by the profile's CA, that signed a renewal. */
  renewing?: IssuedCertificate | undefined;
}

const sansOf = (s: SubjectAlternativeNames): SubjectAltName[] => [
  ...s.dnsNames.map((value) => ({ type: "dns" as const, value })),
  ...s.ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ...s.emails.map((value) => ({ type: "email" as const, value })),
  ...s.uris.map((value) => ({ type: "uri" as const, value })),
];

/** A key as profiles name key types: `RSA-2048`, `EC-P256`. */
const keyTypeOf = (key: PublicKeyFacts): string =>
  key.keyType === "RSA"
    ? `RSA-${key.keySize ?? 0}`
    : key.keyType === "EC"
      ? `EC-${(key.curve ?? "").replace("-", "")}`
      : key.keyType;

const sameNames = (a: SubjectAltName[], b: SubjectAltName[]): boolean => {
  const key = (names: SubjectAltName[]) =>
    JSON.stringify(names.map((n) => `${n.type}:${n.value.toLowerCase()}`).sort());
  return key(a) === key(b);
};

/**
 * Issuance for EST and SCEP clients: the organisation's rules first, then the profile's CA through the
 * CA service, so each certificate is in the CA's records, its CRLs and OCSP, and the inventory.
 */
export function createEnrollmentService(deps: EnrollmentServiceDeps) {
  const { store, ca, x509, crypto, gate, clock } = deps;

  const scopeOf = (profile: EnrollmentProfile) => ({
    caId: profile.caId,
    profile: { kind: profile.kind, name: profile.label },
  });

  async function check(
    profile: EnrollmentProfile,
    facts: CsrFacts,
    keySpki: Buffer,
  ): Promise<CertificateRequestFacts> {
    const authority = await ca.get(profile.caId);
    const key = crypto.keyFacts(keySpki);
    if (profile.keyType && keyTypeOf(key) !== profile.keyType)
      throw new DomainError(
        "BadParameter",
        `Profile ${profile.label} takes ${profile.keyType} keys (see csrattrs), not ${keyTypeOf(key)}`,
      );
    const request: CertificateRequestFacts = {
      subject: facts.subject,
      sans: sansOf(facts.sans),
      ...key,
      validityDays: profile.validityDays,
      ekus: profile.ekus,
      issuerName: authority.name,
    };
    await gate.check(profile.kind, scopeOf(profile), request);
    return request;
  }

  /** The approval request the rules (or the profile's flag) call for, not yet stored. */
  async function proposeApproval(
    profile: EnrollmentProfile,
    facts: CertificateRequestFacts,
    requester: string,
    transactionId: string,
  ): Promise<ApprovalChange | undefined> {
    const requirements = [
      ...(await deps.approval.requirements(profile.kind, scopeOf(profile))),
      ...(profile.approval ? [PROFILE_APPROVAL] : []),
    ];
    if (requirements.length === 0) return undefined;
    return deps.approval.service.prepare({
      entry: profile.kind,
      scope: scopeOf(profile),
      requester,
      facts,
      requirements,
      payload: { profile: profile.label, transactionId },
    });
  }

  async function sign(profile: EnrollmentProfile, csr: Buffer, publicKey?: Buffer) {
    return ca.signCsr(profile.caId, csr, {
      validityDays: profile.validityDays,
      ekus: profile.ekus,
      publicKey,
    });
  }

  return {
    /** The CA's certificate and the chain above it, nearest first. */
    async caCertificates(profile: EnrollmentProfile): Promise<Buffer[]> {
      const authority = await ca.get(profile.caId);
      if (!authority.certificate)
        throw new DomainError("Conflict", `CA ${authority.name} has no certificate yet`);
      return [authority.certificate, ...authority.chain];
    },

    /**
     * A certificate presented by a client (TLS or SCEP signer) when it is one the profile's CA issued
     * and still good; undefined otherwise. Comparing the whole DER with the CA's record needs no chain
     * building, and the TLS handshake or the CMS signature has proven the key.
     */
    async issuedByProfileCa(profile: EnrollmentProfile, der: Buffer): Promise<IssuedCertificate | undefined> {
      let serial: string;
      try {
        serial = x509.readCertificate(der).serial;
      } catch {
        return undefined;
      }
      const issued = await ca.findIssued(serial, profile.caId).catch(() => undefined);
      if (!issued?.der.equals(der) || issued.status !== "good") return undefined;
      if (issued.notAfter.getTime() <= clock.now().getTime()) return undefined;
      return issued;
    },

    /** EST simpleenroll (RFC 7030 §4.2.1). */
    async enroll(
      profile: EnrollmentProfile,
      csr: Buffer,
    ): Promise<{ issued: IssuedCertificate; chain: Buffer[] }> {
      const facts = await x509.readCsr(csr);
      await check(profile, facts, facts.publicKey);
      return sign(profile, csr);
    },

    /**
     * EST simplereenroll (RFC 7030 §4.2.2): the request must name the same subject and names as the
     * certificate it renews.
     */
    async reenroll(
      profile: EnrollmentProfile,
      current: IssuedCertificate,
      csr: Buffer,
    ): Promise<{ issued: IssuedCertificate; chain: Buffer[] }> {
      const facts = await x509.readCsr(csr);
      renewsSameNames(current, facts);
      await check(profile, facts, facts.publicKey);
      return sign(profile, csr);
    },

    /**
     * EST serverkeygen (RFC 7030 §4.4): the CSR names the subject; the key is made here and
     * returned to the client once, never stored.
     */
    async enrollWithServerKey(profile: EnrollmentProfile, csr: Buffer) {
      const facts = await x509.readCsr(csr);
      const made = await crypto.newKeyWithCsr(profile.keyType ?? "EC-P256", "CN=EST server-generated key");
      const madeFacts = await x509.readCsr(made.csr);
      await check(profile, facts, madeFacts.publicKey);
      const { issued, chain } = await sign(profile, csr, madeFacts.publicKey);
      return { issued, chain, pkcs8: made.pkcs8 };
    },

    /**
     * SCEP PKCSReq and RenewalReq (RFC 8894 §3.3.1): a transactionID seen before answers with what
     * became of it (a client resending after a lost reply gets its certificate, not a second one).
     */
    async scepRequest(profile: EnrollmentProfile, request: ScepEnrollment): Promise<ScepOutcome> {
      const { transactionId, csr } = request;
      const requester = crypto.fingerprint(request.signer);
      const known = await store.getTransaction(profile.id, transactionId);
      if (known?.requester === requester) return outcome(await throughApproval(profile, known));
      const facts = await x509.readCsr(csr);
      if (request.renewing) renewsSameNames(request.renewing, facts);
      else if (
        request.challenge === undefined ||
        !(await store.consumeChallenge(profile.id, crypto.hashChallenge(request.challenge), clock.now()))
      )
        throw new DomainError(
          "Unauthorized",
          "The request's challenge password is missing, wrong, used or expired; make one with `strongroom scep challenge`",
        );
      const requestFacts = await check(profile, facts, facts.publicKey);
      const now = clock.now();
      const transaction: ScepTransaction = {
        profileId: profile.id,
        transactionId,
        status: "pending",
        requester,
        csr,
        createdAt: now,
        updatedAt: now,
      };
      const held = await proposeApproval(profile, requestFacts, `scep:${requester}`, transactionId);
      if (held) {
        // CertPoll hears the approvers' decision; the request and its approval commit together.
        await store.putTransaction({ ...transaction, approvalId: held.request.id }, held);
        return { status: "pending" };
      }
      const { issued } = await sign(profile, csr);
      await store.putTransaction({
        ...transaction,
        status: "issued",
        caId: issued.caId,
        serial: issued.serial,
      });
      return { status: "issued", certificate: issued.der };
    },

    /** SCEP CertPoll (RFC 8894 §3.3.3); NotFound when the transaction is unknown. */
    async scepPoll(profile: EnrollmentProfile, transactionId: string): Promise<ScepOutcome> {
      const known = await store.getTransaction(profile.id, transactionId);
      if (!known) throw new DomainError("NotFound", `No SCEP transaction ${transactionId}`);
      return outcome(await throughApproval(profile, known));
    },
    csrAttributes: (profile: EnrollmentProfile): Buffer | undefined =>
      crypto.csrAttributes(profile.keyType, profile.ekus),
  };

  function renewsSameNames(current: IssuedCertificate, facts: CsrFacts): void {
    if (
      facts.subject !== current.subject ||
      !sameNames(sansOf(facts.sans), crypto.certificateNames(current.der))
    )
      throw new DomainError(
        "BadParameter",
        `A renewal must ask for the subject and names of the certificate it renews (${current.subject})`,
      );
  }

  /**
   * A request held for approval as the approvers leave it: pending while they decide, signed once
   * approved (by the one node that takes it), rejected with the reason once denied or expired.
   */
  async function throughApproval(profile: EnrollmentProfile, t: ScepTransaction): Promise<ScepTransaction> {
    if (t.status !== "pending" || !t.approvalId) return t;
    const approval = await deps.approval.service.get(t.approvalId);
    if (approval.state === "pending") return t;
    const now = clock.now();
    if (approval.state !== "approved") {
      if (!(await store.moveTransaction(profile.id, t.transactionId, "pending", "rejected")))
        return (await store.getTransaction(profile.id, t.transactionId)) ?? t;
      return { ...t, status: "rejected", updatedAt: now };
    }
    if (!(await store.moveTransaction(profile.id, t.transactionId, "pending", "approved")))
      return (await store.getTransaction(profile.id, t.transactionId)) ?? t;
    let done: ScepTransaction;
    try {
      const { issued } = await sign(profile, t.csr);
      done = { ...t, status: "issued", caId: issued.caId, serial: issued.serial, updatedAt: now };
    } catch (error) {
      // The CA refused it (the CA expired meanwhile, its own rules): the client hears FAILURE.
      if (!(error instanceof DomainError)) throw error;
      done = { ...t, status: "rejected", updatedAt: now };
    }
    await store.putTransaction(done);
    return done;
  }

  async function outcome(t: ScepTransaction): Promise<ScepOutcome> {
    if (t.status === "rejected") {
      const approval = t.approvalId ? await deps.approval.service.get(t.approvalId) : undefined;
      return { status: "rejected", reason: approval?.outcome ?? "The CA refused the approved request" };
    }
    if (t.status !== "issued" || !t.serial) return { status: "pending" };
    const issued = await ca.findIssued(t.serial, t.caId);
    return { status: "issued", certificate: issued.der };
  }
}
