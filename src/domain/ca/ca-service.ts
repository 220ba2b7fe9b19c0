import type { ApprovalService } from "../approvals/approval-service.js";
import { type ApprovalRequest, refusalOf } from "../approvals/model.js";
import type { ApprovalRequirement } from "../approvals/requirement.js";
import type { KeyUsage, SubjectAlternativeNames } from "../certificates/model.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import type { VaultEvent } from "../events/model.js";
import { objectEvent } from "../events/model.js";
import { isObjectName, newId } from "../ids.js";
import { modulusBits, type Protection, type PublicKeyParts } from "../keys/model.js";
import {
  type CertificateRequestFacts,
  type EntryPoint,
  type IssuanceGate,
  openGate,
  type RuleScope,
} from "../rules/issuance-gate.js";
import { csrKey, sansOf } from "../rules/request-facts.js";
import { BACKDATE_MS, newSerial, caSigner as signerFor } from "./ca-signing.js";
import type { CrlService } from "./crl-service.js";
import {
  CA_KEY_ALGORITHMS,
  type CaKeyAlgorithm,
  type CertificateAuthority,
  type CertificateSpec,
  type CsrFacts,
  FULL_CRL,
  type IssuedCertificate,
  type NameConstraints,
  REVOCATION_REASONS,
  type RevocationReason,
  type VaultLink,
} from "./model.js";
import { enforceNameConstraints, validateNameConstraints } from "./name-constraints.js";
import type { CaKeys, CaStore, CaX509, IssuedFor, PkiUrls, StatusChange } from "./ports.js";

export interface CaServiceDeps {
  store: CaStore;
  keys: CaKeys;
  x509: CaX509;
  clock: Clock;
  urls: PkiUrls;
  /** Publishes the CRLs and the OCSP responder of each CA this service activates or revokes under. */
  crls: Pick<CrlService, "activate" | "regenerate">;
  /** The organisation rules, asked before a certificate is signed; none when absent. */
  gate?: IssuanceGate;
  /** Holds the sign API's requests the approval rules match until approvers agree; none when absent. */
  approval?: SignApproval;
}

export interface SignApproval {
  service: Pick<ApprovalService, "hold" | "get">;
  requirements: (entry: EntryPoint, scope: RuleScope) => Promise<readonly ApprovalRequirement[]>;
}

/** What a CSR is signed with besides the CA: the sign API's options. */
export interface SignOptions {
  validityDays?: number | undefined;
  ekus?: string[] | undefined;
  keyUsage?: KeyUsage[] | undefined;
  /**
   * SPKI DER of a key generated for the client (EST serverkeygen): the certificate binds it
   * instead of the CSR's key, which then only carries the subject and names asked for.
   */
  publicKey?: Buffer | undefined;
  /** An exact validity the client asked for (ACME newOrder), instead of `validityDays` from now. */
  validity?: { notBefore?: Date | undefined; notAfter: Date } | undefined;
}

type KeyFacts = ReturnType<typeof csrKey>;

/** What the rules read of a key, from its public parts as the key service holds them. */
function partsKey(publicKey: PublicKeyParts): KeyFacts {
  if (publicKey.n) return { keyType: "RSA", keySize: modulusBits(publicKey.n) };
  if (publicKey.crv === "Ed25519") return { keyType: "Ed25519" };
  return { keyType: "EC", curve: publicKey.crv };
}

/** A certificate signed and not yet stored, with the event its storing writes and its chain. */
export interface SignedCertificate {
  issued: IssuedCertificate;
  events: VaultEvent[];
  chain: Buffer[];
}

/** The sign API's answer: the certificate and its chain, or the approval request holding it. */
export type SignResult = { issued: IssuedCertificate; chain: Buffer[] } | { held: ApprovalRequest };

/** What a held sign keeps to be signed once approved: the CSR (public) and the options, as JSON. */
interface HeldSign {
  caId: string;
  csr: string;
  validityDays?: number | undefined;
  ekus?: string[] | undefined;
  keyUsage?: KeyUsage[] | undefined;
}

export interface CreateCaInput {
  name: string;
  subject: string;
  keyAlgorithm?: CaKeyAlgorithm | undefined;
  protection?: Protection | undefined;
  validityDays?: number | undefined;
  pathLength?: number | undefined;
  nameConstraints?: NameConstraints | undefined;
  policies?: string[] | undefined;
  crlShards?: number | undefined;
}

export interface CreateIntermediateInput extends CreateCaInput {
  /** The CA of this installation that signs it; absent with `external`. */
  parent?: string | undefined;
  /** Makes a CSR for an external CA to sign; the certificate is imported afterwards. */
  external?: boolean | undefined;
}

/** What a certificate gets besides its key: from a vault certificate policy or a sign request. */
export interface IssueProfile {
  subject: string;
  /** The CSR's own encoding of `subject`, when the certificate takes the CSR's subject. */
  subjectDer?: Buffer | undefined;
  sans: SubjectAlternativeNames;
  keyUsage: KeyUsage[];
  ekus: string[];
  notAfter: Date;
  /** When the client chose it (ACME notBefore); else a little before now, for skewed clocks. */
  notBefore?: Date | undefined;
}

export type CaService = ReturnType<typeof createCaService>;

/** The key of findIssuedForVersions' answer: a certificate's name (in any case) and version. */
export const issuedVersionKey = (name: string, version: string): string => `${name.toLowerCase()}/${version}`;

const DAY_MS = 86_400_000;
const MAX_CRL_SHARDS = 4096;
const OID = /^[0-2](\.(0|[1-9]\d*))+$/;

/** Distinct CAs kept for issuance; installations have a handful. */
const MAX_ISSUING = 1000;

type ActiveCa = CertificateAuthority & { certificate: Buffer };
interface Issuing {
  ca: ActiveCa;
  constraints: { ca: string; constraints: NameConstraints | undefined }[];
}

const caNotFound = (name: string) => new DomainError("NotFound", `No certificate authority named ${name}`);

export { newSerial };

/** Serial numbers as users type them (colons, upper case, leading zeros) in the stored form. */
export function canonicalSerial(text: string): string {
  const hex = text.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 40)
    throw badParameter(`"${text}" is not a certificate serial number in hex`);
  const stripped = hex.replace(/^0+/, "");
  if (stripped === "") return "00";
  return stripped.length % 2 === 1 ? `0${stripped}` : stripped;
}

/** The shard a serial's certificate is listed in: its low bits, which are random. */
export const shardOf = (serial: string, shards: number): number =>
  shards <= 1 ? 0 : Number.parseInt(serial.slice(-6), 16) % shards;

export function parseReason(reason: string | undefined): RevocationReason {
  const r = reason ?? "unspecified";
  if (!(r in REVOCATION_REASONS))
    throw badParameter(`reason must be one of ${Object.keys(REVOCATION_REASONS).join(", ")}`);
  return r as RevocationReason;
}

/**
 * Called after a certificate is issued or changes status. A status change waits for the promise it
 * returns, so a revocation is answered only once every cache that must drop it has.
 */
export type CertificateChangeListener = (
  caId: string,
  serial: string,
  change: "issued" | "status",
) => void | Promise<void>;

export function createCaService(deps: CaServiceDeps) {
  const { store, keys, x509, clock, urls, crls } = deps;
  /** Run after a certificate is issued or changes status: the OCSP responder re-signs its answer. */
  const listeners: CertificateChangeListener[] = [];

  const caSigner = (ca: CertificateAuthority) => signerFor(keys, ca);

  async function find(idOrName: string): Promise<CertificateAuthority> {
    const ca = await store.getAuthority(idOrName);
    if (!ca) throw caNotFound(idOrName);
    return ca;
  }

  async function active(idOrName: string): Promise<CertificateAuthority & { certificate: Buffer }> {
    const ca = await find(idOrName);
    if (ca.status !== "active" || !ca.certificate)
      throw new DomainError(
        "Conflict",
        `CA ${ca.name} has no certificate yet: import the certificate its external CA signed for its CSR`,
      );
    return ca as CertificateAuthority & { certificate: Buffer };
  }

  /** The CA and every CA of this installation above it, nearest first. */
  async function lineage(ca: CertificateAuthority): Promise<CertificateAuthority[]> {
    const out = [ca];
    let current = ca;
    while (current.parentId) {
      const parent = await store.getAuthority(current.parentId);
      if (!parent) break;
      out.push(parent);
      current = parent;
    }
    return out;
  }

  function validateInput(input: CreateCaInput) {
    if (!isObjectName(input.name)) throw badParameter("name must be 1-127 letters, digits and hyphens");
    if (!/(^|,)\s*[A-Za-z.0-9]+=/.test(input.subject))
      throw badParameter('subject must be a distinguished name, e.g. "CN=Example Root CA, O=Example"');
    const algorithm = input.keyAlgorithm ?? "EC-P256";
    if (!CA_KEY_ALGORITHMS.includes(algorithm))
      throw badParameter(`keyAlgorithm must be one of ${CA_KEY_ALGORITHMS.join(", ")}`);
    if (input.pathLength !== undefined && (!Number.isInteger(input.pathLength) || input.pathLength < 0))
      throw badParameter("pathLength must be a whole number, 0 or more");
    const shards = input.crlShards ?? 1;
    if (!Number.isInteger(shards) || shards < 1 || shards > MAX_CRL_SHARDS)
      throw badParameter(`crlShards must be from 1 to ${MAX_CRL_SHARDS}`);
    const days = input.validityDays ?? 3650;
    if (!Number.isInteger(days) || days < 1 || days > 36_500)
      throw badParameter("validityDays must be from 1 to 36500");
    for (const oid of input.policies ?? [])
      if (!OID.test(oid)) throw badParameter(`"${oid}" is not a certificate policy OID`);
    validateNameConstraints(input.nameConstraints);
    return { algorithm, shards, days };
  }

  async function newAuthority(
    input: CreateCaInput,
    kind: CertificateAuthority["kind"],
    parentId?: string,
  ): Promise<CertificateAuthority> {
    const { algorithm, shards } = validateInput(input);
    if (await store.getAuthority(input.name))
      throw new DomainError("Conflict", `A certificate authority named ${input.name} exists`);
    const id = newId();
    const protection = input.protection ?? "software";
    const made = await keys.generate(algorithm, protection, `ca/${id}`);
    const now = clock.now();
    return {
      id,
      name: input.name,
      kind,
      status: "awaitingCertificate",
      parentId,
      subject: input.subject,
      keyAlgorithm: algorithm,
      protection,
      publicKey: made.publicKey,
      keyMaterial: made.material,
      chain: [],
      pathLength: input.pathLength,
      nameConstraints: input.nameConstraints,
      policies: input.policies ?? [],
      crlShards: shards,
      createdAt: now,
      updatedAt: now,
    };
  }

  const CA_USAGES: KeyUsage[] = ["keyCertSign", "cRLSign", "digitalSignature"];
  const noSans: SubjectAlternativeNames = { dnsNames: [], emails: [], upns: [], uris: [], ipAddresses: [] };

  /** Stores a new CA, and destroys its key when that fails (a name taken meanwhile, a lost connection). */
  async function insertOrDestroy(ca: CertificateAuthority): Promise<void> {
    try {
      await store.insertAuthority(ca);
    } catch (error) {
      await keys.destroy(ca.protection, ca.keyMaterial);
      throw error;
    }
  }

  async function caCertificateSpec(
    ca: CertificateAuthority,
    input: CreateCaInput,
    issuer: (CertificateAuthority & { certificate: Buffer }) | undefined,
  ): Promise<CertificateSpec> {
    const now = clock.now();
    const notBefore = new Date(now.getTime() - BACKDATE_MS);
    const asked = new Date(notBefore.getTime() + (input.validityDays ?? 3650) * DAY_MS);
    // Without an explicit validity an intermediate ends with its issuer rather than being refused.
    const notAfter =
      input.validityDays === undefined && issuer?.notAfter && asked > issuer.notAfter
        ? issuer.notAfter
        : asked;
    if (issuer?.notAfter && notAfter > issuer.notAfter)
      throw badParameter(
        `validityDays reaches beyond CA ${issuer.name}'s own expiry (${issuer.notAfter.toISOString()})`,
      );
    return {
      serial: newSerial(),
      subject: ca.subject,
      notBefore,
      notAfter,
      publicKey: x509.spki(ca.publicKey),
      issuer: issuer && { certificate: issuer.certificate },
      ca: { pathLength: ca.pathLength, nameConstraints: ca.nameConstraints },
      keyUsage: CA_USAGES,
      ekus: [],
      sans: noSans,
      policies: ca.policies,
      urls: issuer && {
        caIssuers: urls.caIssuers(issuer.id),
        ocsp: urls.ocsp(),
        crl: urls.crl(issuer.id, FULL_CRL),
      },
    };
  }

  async function setStatus(
    issued: IssuedCertificate,
    status: IssuedCertificate["status"],
    reason: RevocationReason | undefined,
  ): Promise<IssuedCertificate> {
    const change = statusChange(issued, status, reason);
    await store.changeStatus(change);
    await Promise.all(listeners.map((listener) => listener(issued.caId, issued.serial, "status")));
    const ca = await find(issued.caId);
    await crls.regenerate(ca, ca.crlShards > 1 ? [FULL_CRL, issued.shard] : [FULL_CRL]);
    return { ...issued, status, revokedAt: change.revokedAt, reason: status === "good" ? undefined : reason };
  }

  /**
   * Active CAs as issuance reads them, with their lineage's name constraints. What issuance reads
   * of a CA (certificate, chain, key, policies, constraints, shards, expiry) is fixed once it is
   * active, on every node, so an entry never goes stale; it saves three database reads a certificate.
   */
  const issuing = new Map<string, Issuing>();

  async function issuingCa(idOrName: string): Promise<Issuing> {
    const hit = issuing.get(idOrName);
    if (hit) return hit;
    const ca = await active(idOrName);
    const constraints = (await lineage(ca)).map((c) => ({ ca: c.name, constraints: c.nameConstraints }));
    if (issuing.size >= MAX_ISSUING) issuing.clear();
    issuing.set(idOrName, { ca, constraints });
    return { ca, constraints };
  }

  /** A request to `ca` in the rules' terms. */
  const requestFacts = (
    ca: ActiveCa,
    key: KeyFacts,
    profile: IssueProfile,
    now: Date,
  ): CertificateRequestFacts => ({
    subject: profile.subject,
    sans: sansOf(profile.sans),
    ...key,
    validityDays: Math.round((profile.notAfter.getTime() - now.getTime()) / DAY_MS),
    ekus: profile.ekus,
    issuerName: ca.name,
  });

  /** Signs a certificate for `facts`' key and returns it with its event, storing nothing. */
  async function sign(
    { ca, constraints }: Issuing,
    facts: Pick<CsrFacts, "publicKey" | "key">,
    profile: IssueProfile,
    vault?: VaultLink,
    key: KeyFacts = csrKey(facts),
    gate: IssuanceGate = deps.gate ?? openGate,
  ): Promise<SignedCertificate> {
    enforceNameConstraints(constraints, profile.subject, profile.sans);
    const now = clock.now();
    await gate.check(
      "ca-sign",
      { caId: ca.id, ...(vault && { vaultId: vault.vaultId }) },
      requestFacts(ca, key, profile, now),
    );
    if (ca.notAfter && profile.notAfter > ca.notAfter)
      throw badParameter(
        `The certificate would outlive CA ${ca.name}, which expires on ${ca.notAfter.toISOString()}; ask for a shorter validity`,
      );
    const serial = newSerial();
    const shard = shardOf(serial, ca.crlShards);
    const notBefore = profile.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
    const der = await x509.certificate(
      {
        serial,
        subject: profile.subject,
        subjectDer: profile.subjectDer,
        notBefore,
        notAfter: profile.notAfter,
        publicKey: facts.publicKey,
        issuer: { certificate: ca.certificate },
        keyUsage: profile.keyUsage,
        ekus: profile.ekus,
        sans: profile.sans,
        policies: ca.policies,
        urls: {
          caIssuers: urls.caIssuers(ca.id),
          ocsp: urls.ocsp(),
          crl: urls.crl(ca.id, ca.crlShards > 1 ? shard : FULL_CRL),
        },
      },
      caSigner(ca),
    );
    const issued: IssuedCertificate = {
      caId: ca.id,
      serial,
      subject: profile.subject,
      notBefore,
      notAfter: profile.notAfter,
      der,
      shard,
      status: "good",
      vault,
      createdAt: now,
    };
    const events = [
      objectEvent(
        "CaCertificateIssued",
        { id: ca.id, name: ca.name },
        "Certificate",
        { name: serial, version: serial, notBefore, expiresAt: profile.notAfter },
        now,
      ),
    ];
    return { issued, events, chain: [ca.certificate, ...ca.chain] };
  }

  async function issue(
    issuing: Issuing,
    facts: CsrFacts,
    profile: IssueProfile,
    vault?: VaultLink,
    completes?: IssuedFor,
  ): Promise<{ issued: IssuedCertificate; chain: Buffer[] }> {
    const { issued, events, chain } = await sign(issuing, facts, profile, vault);
    await store.insertIssued(issued, events, completes);
    for (const listener of listeners) void listener(issued.caId, issued.serial, "issued");
    return { issued, chain };
  }

  /** The status change, with its event about the vault certificate it backs, not yet stored. */
  function statusChange(
    issued: IssuedCertificate,
    status: IssuedCertificate["status"],
    reason: RevocationReason | undefined,
  ): StatusChange {
    const now = clock.now();
    const vault = issued.vault;
    const events = vault
      ? [
          objectEvent(
            status === "good" ? "CertificateRevocationRemoved" : "CertificateRevoked",
            { id: vault.vaultId, name: vault.vaultName },
            "Certificate",
            {
              name: vault.name,
              version: vault.version,
              notBefore: issued.notBefore,
              expiresAt: issued.notAfter,
            },
            now,
            status === "good" ? "certificateHold removed" : reason,
          ),
        ]
      : [];
    const revokedAt = status === "good" ? undefined : now;
    return { caId: issued.caId, serial: issued.serial, status, revokedAt, reason, events };
  }

  async function republish(caIds: string[]): Promise<void> {
    for (const caId of caIds) await crls.regenerate(await find(caId), "all");
  }

  /** The CA, CSR facts and profile a sign request asks for, checked; `read` is the CSR as readCsr read it. */
  async function signInputs(caName: string, read: CsrFacts, options: SignOptions) {
    const ca = await issuingCa(caName);
    const facts = options.publicKey ? { ...read, publicKey: options.publicKey } : read;
    const days = options.validityDays ?? 90;
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw badParameter("validityDays must be from 1 to 3650");
    const profile: IssueProfile = {
      subject: facts.subject,
      subjectDer: facts.subjectDer,
      sans: facts.sans,
      keyUsage: options.keyUsage ?? ["digitalSignature", "keyEncipherment"],
      ekus: options.ekus ?? ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
      notAfter: options.validity?.notAfter ?? new Date(clock.now().getTime() + days * DAY_MS),
      notBefore: options.validity?.notBefore,
    };
    return { ca, facts, profile };
  }

  function approvalService(): SignApproval["service"] {
    if (!deps.approval)
      throw new DomainError("NotFound", "This installation holds no sign requests for approval", {
        reason: "ApprovalNotFound",
      });
    return deps.approval.service;
  }

  async function findIssuedBy(caId: string, serial: string): Promise<IssuedCertificate> {
    const issued = await store.getIssued(caId, serial);
    if (!issued) throw new DomainError("NotFound", `No certificate with serial ${serial} was issued here`);
    return issued;
  }

  const service = {
    async createRoot(input: CreateCaInput): Promise<CertificateAuthority> {
      const ca = await newAuthority(input, "root");
      const spec = await caCertificateSpec(ca, input, undefined);
      const certificate = await x509.certificate(spec, caSigner(ca));
      const stored = { ...ca, status: "active" as const, certificate, notAfter: spec.notAfter };
      await insertOrDestroy(stored);
      return crls.activate(stored);
    },

    async createIntermediate(input: CreateIntermediateInput): Promise<CertificateAuthority> {
      if (Boolean(input.external) === Boolean(input.parent))
        throw badParameter(
          "An intermediate needs either parent (a CA of this installation) or external: true",
        );
      if (input.external) {
        const ca = await newAuthority(input, "intermediate");
        const csr = await x509.caCsr(ca.subject, caSigner(ca)).catch(async (error: unknown) => {
          await keys.destroy(ca.protection, ca.keyMaterial);
          throw error;
        });
        const stored = { ...ca, csr };
        await insertOrDestroy(stored);
        return stored;
      }
      const parent = await active(input.parent as string);
      if (parent.pathLength === 0)
        throw badParameter(`CA ${parent.name} has path length 0: it may not sign intermediate CAs`);
      if (
        parent.pathLength !== undefined &&
        input.pathLength !== undefined &&
        input.pathLength >= parent.pathLength
      )
        throw badParameter(`pathLength must be below CA ${parent.name}'s path length ${parent.pathLength}`);
      const withDefault = {
        ...input,
        pathLength: input.pathLength ?? (parent.pathLength !== undefined ? parent.pathLength - 1 : undefined),
      };
      enforceNameConstraints(
        (await lineage(parent)).map((c) => ({ ca: c.name, constraints: c.nameConstraints })),
        input.subject,
        noSans,
      );
      const ca = await newAuthority(withDefault, "intermediate", parent.id);
      try {
        const spec = await caCertificateSpec(ca, withDefault, parent);
        const certificate = await x509.certificate(spec, caSigner(parent));
        const stored = {
          ...ca,
          status: "active" as const,
          certificate,
          chain: [parent.certificate, ...parent.chain],
          notAfter: spec.notAfter,
        };
        await store.insertAuthority(stored);
        return crls.activate(stored);
      } catch (error) {
        if (!(await store.getAuthority(ca.id))) await keys.destroy(ca.protection, ca.keyMaterial);
        throw error;
      }
    },

    /** Completes an externally signed intermediate with its certificate and the chain above it. */
    async importCertificate(name: string, certificates: Buffer[]): Promise<CertificateAuthority> {
      const ca = await find(name);
      if (ca.status !== "awaitingCertificate")
        throw new DomainError("Conflict", `CA ${ca.name} has its certificate already`);
      const [leaf, ...chain] = certificates;
      if (!leaf) throw badParameter("certificate is required");
      const facts = x509.readCertificate(leaf);
      if (!facts.publicKey.equals(x509.spki(ca.publicKey)))
        throw badParameter(
          `The certificate is not for CA ${ca.name}'s key; import the one issued for its CSR`,
        );
      for (const c of chain) x509.readCertificate(c);
      const stored = {
        ...ca,
        status: "active" as const,
        certificate: leaf,
        chain,
        csr: undefined,
        notAfter: facts.notAfter,
        updatedAt: clock.now(),
      };
      await store.updateAuthority(stored);
      return crls.activate(stored);
    },

    list: () => store.listAuthorities(),
    get: find,

    /** Issues for a vault certificate policy: the CSR gives the key, the policy everything else. */
    async issueForVault(caName: string, csr: Buffer, profile: IssueProfile, vault: VaultLink) {
      return issue(await issuingCa(caName), await x509.readCsr(csr), profile, vault);
    },

    /**
     * Signs for vault certificates' new keys without storing the certificates: the caller stores
     * them with the vault versions in one transaction (a campaign batch), then calls `published`.
     * The rules are read once for the whole batch; each request's certificate, or why it was refused.
     */
    async signForVaults(
      caName: string,
      requests: readonly { publicKey: PublicKeyParts; profile: IssueProfile; vault: VaultLink }[],
    ): Promise<PromiseSettledResult<SignedCertificate>[]> {
      const [ca, gate] = await Promise.all([
        issuingCa(caName),
        deps.gate?.snapshot?.() ?? deps.gate ?? openGate,
      ]);
      return Promise.allSettled(
        requests.map(({ publicKey, profile, vault }) =>
          sign(ca, { publicKey: x509.spki(publicKey) }, profile, vault, partsKey(publicKey), gate),
        ),
      );
    },

    /**
     * The revocation of a certificate, not yet stored (a campaign batch stores it with the rest);
     * undefined when it is revoked already, which stays as it was.
     */
    revocation(issued: IssuedCertificate, reason: Exclude<RevocationReason, "certificateHold">) {
      return issued.status === "revoked" ? undefined : statusChange(issued, "revoked", reason);
    },

    /**
     * After status changes stored elsewhere (a campaign batch) have committed: the caches that hold
     * an answer for them drop it (the OCSP responder). Certificates issued that way are not
     * announced: nothing holds an answer for them yet, and the responder signs one when first asked
     * rather than one per certificate of a campaign of thousands. The CRLs are the caller's to remake
     * (`republish`), once in a while rather than per batch: each lists every revoked certificate.
     */
    async published(changed: StatusChange[]) {
      await Promise.all(
        changed.flatMap((c) => listeners.map((listener) => listener(c.caId, c.serial, "status"))),
      );
    },

    /** Makes the full CRL and every shard's again, of each CA named. */
    republish,

    /**
     * Signs a CSR with its own subject and SANs (benchmarks, ACME, EST, SCEP, the CLI's callers),
     * storing the certificate only together with what it `completes`.
     */
    async signCsr(caName: string, csr: Buffer, options: SignOptions, completes?: IssuedFor) {
      return service.signRequest(caName, await x509.readCsr(csr), options, completes);
    },

    /**
     * signCsr for a CSR its caller has read already with this installation's `readCsr`, which
     * verified its signature: ACME's finalize judges the CSR before signing, and reading it again
     * (DER parse, signature check, subject text) was a tenth of a finalize's CPU.
     */
    async signRequest(caName: string, request: CsrFacts, options: SignOptions, completes?: IssuedFor) {
      const { ca, facts, profile } = await signInputs(caName, request, options);
      return issue(ca, facts, profile, undefined, completes);
    },

    /**
     * The sign API: signs the CSR at once, or, when an approval rule applies to the CA, stores the
     * approval request that holds it and signs nothing until it is approved.
     */
    async requestSignature(
      caName: string,
      csr: Buffer,
      options: Omit<SignOptions, "publicKey">,
      requester: string,
    ): Promise<SignResult> {
      const { ca, facts, profile } = await signInputs(caName, await x509.readCsr(csr), options);
      const approval = deps.approval;
      const scope = { caId: ca.ca.id };
      const requirements = approval ? await approval.requirements("ca-sign", scope) : [];
      if (!approval || requirements.length === 0) return issue(ca, facts, profile);
      enforceNameConstraints(ca.constraints, profile.subject, profile.sans);
      const asked = requestFacts(ca.ca, csrKey(facts), profile, clock.now());
      // A request the rules refuse is refused now, not after approvers spent time on it.
      await (deps.gate ?? openGate).check("ca-sign", scope, asked);
      const payload: HeldSign = { caId: ca.ca.id, csr: csr.toString("base64"), ...options };
      const held = await approval.service.hold({
        entry: "ca-sign",
        scope,
        requester,
        facts: asked,
        requirements,
        payload,
      });
      return held ? { held } : issue(ca, facts, profile);
    },

    /**
     * A held sign as it stands: still held while pending; once approved, the certificate, signed by
     * the first poll that sees it approved (one certificate however many polls and nodes race);
     * Forbidden with the denier's reason, the expiry or the cancellation otherwise.
     */
    async heldSignature(caName: string, id: string): Promise<SignResult> {
      const [ca, request] = await Promise.all([find(caName), approvalService().get(id)]);
      const payload = request.payload as HeldSign;
      if (request.entry !== "ca-sign" || payload.caId !== ca.id)
        throw new DomainError("NotFound", `CA ${ca.name} has no sign request ${id}`, {
          reason: "ApprovalNotFound",
        });
      if (request.state === "pending") return { held: request };
      if (request.state !== "approved") {
        const { code, message } = refusalOf(request);
        throw new DomainError("Forbidden", message, { reason: code });
      }
      if (!request.issued) {
        const { csr, caId: _, ...options } = payload;
        const read = await x509.readCsr(Buffer.from(csr, "base64"));
        const { ca: issuing, facts, profile } = await signInputs(ca.id, read, options);
        try {
          return await issue(issuing, facts, profile, undefined, { approvalId: id });
        } catch (error) {
          if (!(error instanceof DomainError && error.reason === "ApprovalAlreadyIssued")) throw error;
        }
      }
      const recorded = (await approvalService().get(id)).issued;
      if (!recorded) throw new Error(`Approval request ${id} recorded no certificate`);
      const issued = await findIssuedBy(recorded.caId, recorded.serial);
      return { issued, chain: [...(ca.certificate ? [ca.certificate] : []), ...ca.chain] };
    },

    async listIssued(caName: string, limit = 100, after?: string) {
      const ca = await find(caName);
      return store.listIssued(ca.id, Math.min(Math.max(limit, 1), 1000), after);
    },

    /** The issued certificate with this serial, of the named CA or of whichever CA issued it. */
    async findIssued(serialText: string, caName?: string): Promise<IssuedCertificate> {
      const serial = canonicalSerial(serialText);
      const found = caName
        ? [await store.getIssued((await find(caName)).id, serial)].filter((i) => i !== undefined)
        : await store.findBySerial(serial);
      if (found.length === 0)
        throw new DomainError(
          "NotFound",
          `No certificate with serial ${serial} was issued by ${caName ?? "any CA here"}`,
        );
      if (found.length > 1) throw badParameter(`Several CAs issued serial ${serial}; say which CA`);
      return found[0] as IssuedCertificate;
    },

    /** The CA-issued certificate behind a vault certificate version. */
    async findIssuedForVersion(vaultId: string, name: string, version: string): Promise<IssuedCertificate> {
      const found = await store.findByVaultVersion(vaultId, name, version);
      if (!found)
        throw new DomainError(
          "NotFound",
          `Certificate ${name} version ${version} was not issued by a private CA of this installation`,
        );
      return found;
    },

    /** The CA-issued certificates behind several versions of a vault's certificates, by name key and version. */
    async findIssuedForVersions(
      vaultId: string,
      versions: readonly { name: string; version: string }[],
    ): Promise<Map<string, IssuedCertificate>> {
      const found = await store.findByVaultVersions(vaultId, versions);
      return new Map(found.map((i) => [issuedVersionKey(i.vault?.name ?? "", i.vault?.version ?? ""), i]));
    },

    /**
     * Revokes (RFC 5280 §5.3.1 reasons); certificateHold puts it on hold, which `release` undoes.
     * A revoked certificate stays revoked: only a hold may change.
     */
    async revoke(issued: IssuedCertificate, reason: RevocationReason): Promise<IssuedCertificate> {
      if (issued.status === "revoked")
        throw new DomainError(
          "Conflict",
          `Certificate ${issued.serial} is revoked already (${issued.reason})`,
        );
      if (issued.status === "hold" && reason === "certificateHold")
        throw new DomainError("Conflict", `Certificate ${issued.serial} is on hold already`);
      return setStatus(issued, reason === "certificateHold" ? "hold" : "revoked", reason);
    },

    /** Takes a certificate off hold (removeFromCRL, RFC 5280 §5.3.1). */
    async release(issued: IssuedCertificate): Promise<IssuedCertificate> {
      if (issued.status !== "hold")
        throw new DomainError(
          "Conflict",
          `Certificate ${issued.serial} is not on hold, so it cannot be released`,
        );
      return setStatus(issued, "good", undefined);
    },

    /**
     * What relying parties find about revocation under a CA: its full CRL (number and validity,
     * absent until the CA has a certificate) and its delegated OCSP responder's certificate expiry.
     */
    async revocationStatus(caName: string) {
      const ca = await find(caName);
      const crl = ca.certificate ? await store.getCrl(ca.id, FULL_CRL) : undefined;
      return {
        crl: crl && {
          url: urls.crl(ca.id, FULL_CRL),
          number: crl.number,
          thisUpdate: crl.thisUpdate,
          nextUpdate: crl.nextUpdate,
          shards: ca.crlShards,
        },
        ocsp: ca.responder && { url: urls.ocsp(), responderNotAfter: ca.responder.notAfter },
      };
    },

    /** DER of a CA's certificate, for the AIA caIssuers URL. */
    async caCertificate(caId: string): Promise<Buffer | undefined> {
      return (await store.getAuthority(caId))?.certificate;
    },

    /** Calls `listener` after every issuance and status change made through this service. */
    onChange(listener: CertificateChangeListener): void {
      listeners.push(listener);
    },
  };
  return service;
}
