import type { ApprovalService } from "../approvals/approval-service.js";
import { type ApprovalRequest, refusalOf } from "../approvals/model.js";
import type { ApprovalChange } from "../approvals/ports.js";
import type { ApprovalRequirement } from "../approvals/requirement.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { type InternalEventType, newVersionEvent, objectEvent } from "../events/model.js";
import { newVersion } from "../ids.js";
import type { CertificateFactsReader } from "../inventory/ports.js";
import type { IssuanceRequest, IssuanceResult, IssuerAdapter, PreparedIssuance } from "../issuance/ports.js";
import { vaultCurve } from "../keys/key-service.js";
import { type ImportJwk, modulusBits, type StoredKeyVersion } from "../keys/model.js";
import {
  createObjectLifecycle,
  deletedButRecoverable,
  openBackup,
  withAttributeChanges,
} from "../objects/object-lifecycle.js";
import { type Page, pageLimit } from "../paging.js";
import { type EntryPoint, type IssuanceGate, openGate, type RuleScope } from "../rules/issuance-gate.js";
import { issuedFacts, policyFacts } from "../rules/request-facts.js";
import type { Sealer } from "../sealing/ports.js";
import type { StoredSecretVersion } from "../secrets/model.js";
import { sealContext as secretSealContext } from "../secrets/secret-service.js";
import { validateTags } from "../tags.js";
import type { Vault } from "../vaults/model.js";
import type {
  CertificateIssuer,
  CertificateOperation,
  CertificatePolicy,
  CertificateVersion,
  ChainVerdict,
  DeletedCertificate,
} from "./model.js";
import {
  type ImportedKey,
  importedKeyProps,
  normalizePolicy,
  type PolicyChange,
  type PolicyInput,
} from "./policy.js";
import type {
  CertificateBundleCodec,
  CertificateKeys,
  CertificateProfile,
  CertificateStore,
  IssuedVersion,
  ReadChain,
  X509Factory,
} from "./ports.js";

export interface CertificateServiceDeps {
  store: CertificateStore;
  keys: CertificateKeys;
  x509: X509Factory;
  codec: CertificateBundleCodec;
  sealer: Sealer;
  clock: Clock;
  /** Issuer adapters by provider name; a provider without one fails its operations plainly. */
  adapters?: ReadonlyMap<string, IssuerAdapter>;
  /** The organisation rules, asked before anything is written; none when absent. */
  gate?: IssuanceGate;
  /** Reads a handed-in certificate (import, merge) in the rules' terms. */
  reader?: CertificateFactsReader;
  /** Holds the creates the approval rules match until approvers agree; none is held when absent. */
  approval?: CreateApproval;
}

export interface CreateApproval {
  service: Pick<ApprovalService, "prepare" | "get" | "withdrawal">;
  requirements: (entry: EntryPoint, scope: RuleScope) => Promise<readonly ApprovalRequirement[]>;
}

export type CertificateService = ReturnType<typeof createCertificateService>;

/** A new version prepared for a batch (see `prepareNewVersions`). */
export type Reissue =
  | {
      status: "prepared";
      version: IssuedVersion;
      record: Extract<PreparedIssuance, { status: "issued" }>["record"];
    }
  | { status: "failed"; message: string }
  | { status: "unbatched" };

export interface CreateRequest {
  policy?: PolicyInput | undefined;
  enabled?: boolean | undefined;
  tags?: Record<string, string> | undefined;
  /** The principal asking, who may not approve the create when the rules hold it. */
  requester?: string | undefined;
}

export interface ImportRequest extends CreateRequest {
  /** Base64 PKCS#12, or PEM text. */
  value: string;
  password?: string | undefined;
}

interface CertificateBackup {
  kind: "certificate";
  name: string;
  policy: CertificatePolicy;
  versions: {
    version: string;
    tags: Record<string, string>;
    enabled: boolean;
    createdAt: number;
    certificates: string[];
    pkcs8: string;
  }[];
}

const BACKUP_CONTEXT = "backup/certificate/v1";

/** An entry of a certificate listing: a certificate, or one pending its first version. */
export type CertificateListEntry = { certificate: CertificateVersion } | { pending: CertificateOperation };

const CERTIFICATES_CURSOR = "c:";
const PENDING_CURSOR = "p:";

const PENDING_MERGE = "Pending certificate created. Please Perform Merge to complete the request.";
// Key Vault's words for an operation its issuer is still working on.
const PENDING_ISSUER =
  "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.";

const awaitingApproval = (approval: ApprovalRequest) =>
  `Pending certificate created. Awaiting approval: approval request ${approval.id} needs ${approval.required} approval(s) because of ${approval.because.join("; ")}. Please check again later.`;

/** Why a held create will not be issued, as the failed operation's error. */
const refusal = (approval: ApprovalRequest): IssuanceResult => ({ status: "failed", ...refusalOf(approval) });

const pendingNotFound = (name: string) =>
  new DomainError("NotFound", `Pending certificate not found: ${name}`, {
    reason: "PendingCertificateNotFound",
  });

const pendingInProgress = () =>
  new DomainError(
    "Conflict",
    "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.",
    { reason: "PendingCertificateInProgress" },
  );

const samePublicKey = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A vault's requireCompleteChain, for chains a caller hands in (import, merge, restore). Chains the
 * vault's own issuer adapters bring are recorded but not refused: ACME CAs serve chains without the
 * root by design (relying parties hold it), and a private CA's chain always reaches its root.
 */
function requireCompleteChain(vault: Vault, verdict: ChainVerdict, remedy: string): void {
  if (!vault.requireCompleteChain || verdict.complete) return;
  const gap = verdict.signatureFails
    ? `the certificate given as the issuer "${verdict.missingIssuer}" did not sign the one below it (its signature does not verify)`
    : `the issuer "${verdict.missingIssuer}" is missing; ${remedy}`;
  throw badParameter(`Vault ${vault.name} requires complete chains: ${gap}`);
}

/**
 * An imported certificate's policy: what the caller gave, and for what it left out, what the
 * certificate itself says (SANs, EKUs, key usage, validity, CA), as Key Vault reports it, so that a
 * renewal's CSR asks for what the imported certificate had. A certificate whose own values a policy
 * may not hold (a SAN no policy accepts) is still imported, with the defaults for those fields.
 */
function importedPolicy(
  given: PolicyInput,
  profile: CertificateProfile,
  base: CertificatePolicy | undefined,
): CertificatePolicy {
  const derived: PolicyInput = {
    sans: { ...profile.sans, ...given.sans },
    ekus: given.ekus ?? profile.ekus,
    keyUsage: given.keyUsage ?? profile.keyUsage,
    validityMonths: given.validityMonths ?? profile.validityMonths,
    ca: given.ca ?? profile.ca,
  };
  try {
    return normalizePolicy({ ...given, ...derived }, base);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return normalizePolicy(given, base);
  }
}

const looksLikePem = (text: string) => text.trimStart().startsWith("-----BEGIN");

/**
 * What an import's value holds. Key Vault takes "PEM content or Base64 encoded PEM content" and
 * base64 PKCS#12; the Python SDK base64-encodes whatever it imports, PEM included, and the JS SDK
 * sends PEM as it is. PKCS#12 is DER, whose first byte (0x30) is never the "-" PEM starts with.
 */
function importedContent(value: string): { pem: string } | { pfx: Buffer } {
  if (looksLikePem(value)) return { pem: value };
  const bytes = Buffer.from(value, "base64");
  const text = bytes.toString("latin1");
  return looksLikePem(text) ? { pem: text } : { pfx: bytes };
}

/** The type and size or curve of an imported private key, read from its JWK. */
function importedKey(jwk: ImportJwk): ImportedKey {
  if (jwk.kty === "RSA") {
    return { kty: "RSA", keySize: modulusBits(jwk.n ?? "") };
  }
  if (jwk.kty === "EC") return { kty: "EC", curve: jwk.crv ?? "" };
  throw badParameter(`The imported key is ${jwk.kty}; a certificate's key is RSA or EC`);
}

export function createCertificateService(deps: CertificateServiceDeps) {
  const { store, keys, x509, codec, sealer, clock } = deps;
  const adapters = deps.adapters ?? new Map<string, IssuerAdapter>();
  const gate = deps.gate ?? openGate;

  /** Asks the rules about a certificate handed in with a policy; without a reader only the policy is judged. */
  async function checkHandedIn(
    entry: "keyvault-import" | "keyvault-merge",
    vault: Vault,
    leaf: Buffer,
    chain: Buffer[],
    policy: CertificatePolicy,
  ): Promise<void> {
    const now = clock.now();
    const facts = deps.reader
      ? issuedFacts(deps.reader.read(leaf), policy, {
          ekus: x509.profile(leaf).ekus,
          chain: [leaf, ...chain],
          now,
        })
      : policyFacts(policy, now);
    await gate.check(entry, { vaultId: vault.id }, facts);
  }
  const objects = createObjectLifecycle({
    store,
    clock,
    noun: "certificate",
    notFoundCode: "CertificateNotFound",
  });

  async function secretFor(
    vault: Vault,
    key: StoredKeyVersion,
    policy: CertificatePolicy,
    certificates: Buffer[],
  ): Promise<Buffer> {
    const pkcs8 = await keys.exportable(vault, key, policy);
    try {
      return policy.contentType === "application/x-pem-file"
        ? Buffer.from(codec.buildPem(pkcs8, certificates), "utf8")
        : Buffer.from((await codec.buildPfx(pkcs8, certificates)).toString("base64"), "utf8");
    } finally {
      pkcs8?.fill(0);
    }
  }

  function readChain(certificates: Buffer[]): ReadChain {
    const ordered = x509.orderChain(certificates);
    return { ...ordered, facts: x509.inspect(ordered.leaf) };
  }

  /** The certificate version, its key and its secret, ready to be stored together. */
  async function prepareIssued(
    vault: Vault,
    name: string,
    key: StoredKeyVersion,
    certificates: Buffer[] | ReadChain,
    policy: CertificatePolicy,
    extras: {
      tags?: Record<string, string> | undefined;
      enabled?: boolean | undefined;
      operation?: CertificateOperation;
      createdAt?: Date;
    },
  ): Promise<IssuedVersion> {
    const { leaf, chain, verdict, facts } = Array.isArray(certificates)
      ? readChain(certificates)
      : certificates;
    const now = clock.now();
    const common = {
      vaultId: vault.id,
      name,
      version: key.version,
      tags: validateTags(extras.tags),
      enabled: extras.enabled ?? policy.enabled,
      notBefore: facts.notBefore,
      expiresAt: facts.notAfter,
      managed: false,
      createdAt: extras.createdAt ?? now,
      updatedAt: now,
    };
    const certificate: CertificateVersion = {
      ...common,
      cer: leaf,
      chain,
      thumbprint: facts.thumbprint,
      contentType: policy.contentType,
      chainVerdict: verdict,
    };
    const secretValue = await secretFor(vault, key, policy, [leaf, ...chain]);
    const keyId = `keys/${name}/${key.version}`;
    const secret: StoredSecretVersion = {
      ...common,
      managed: true,
      contentType: policy.contentType,
      keyId,
      sealedValue: sealer.seal(secretValue, secretSealContext(vault.id, name, key.version)),
    };
    secretValue.fill(0);
    return {
      certificate,
      key: { ...key, ...common, managed: true, tags: key.tags },
      secret,
      policy: { ...policy, updatedAt: now, createdAt: policy.createdAt ?? now },
      operation: extras.operation,
      events: [newVersionEvent(vault, "certificates", certificate, now)],
    };
  }

  /** Stores a new certificate version with its key and secret, in one transaction. */
  async function issue(...args: Parameters<typeof prepareIssued>): Promise<CertificateVersion> {
    const issued = await prepareIssued(...args);
    await store.addIssued(issued);
    return issued.certificate;
  }

  /**
   * A fresh key, or with reuse_key the latest version's key carried into the new version. Keys in
   * an HSM cannot be carried (they never leave it), so they are always fresh.
   */
  async function newKeyFor(
    vault: Vault,
    name: string,
    version: string,
    policy: CertificatePolicy,
    hsmId?: Buffer,
  ) {
    if (policy.key.reuseKey && !policy.key.kty.endsWith("-HSM")) {
      const previous = (await keys.versions(vault, name)).at(-1);
      if (previous && previous.protection === "software") {
        const pkcs8 = await keys.exportForBackup(vault, previous);
        try {
          return await keys.importKey(vault, name, version, codec.pkcs8ToJwk(pkcs8), policy);
        } finally {
          pkcs8.fill(0);
        }
      }
    }
    return keys.generate(vault, name, version, policy, hsmId);
  }

  /**
   * Key Vault's rules for a new version: none over a deleted certificate (whatever the issuer, and
   * before a key is made for it), and none while an operation for this name is in progress. Returns
   * the live certificate's policy, which the new version's is based on.
   */
  async function checkNewVersionAllowed(vault: Vault, name: string): Promise<CertificatePolicy | undefined> {
    objects.checkName(name);
    const state = await store.newVersionState(vault.id, name);
    if (state.deleted) throw deletedButRecoverable("Certificate", name);
    // Checked before a key is made: a create that completes later must not fail on it then.
    await store.refuseUnmanagedNamesake(vault.id, name);
    if (state.operationStatus === "inProgress") throw pendingInProgress();
    return state.policy;
  }

  async function getPolicy(vault: Vault, name: string): Promise<CertificatePolicy> {
    objects.checkName(name);
    const policy =
      (await store.getPolicy(vault.id, name)) ?? (await store.getOperation(vault.id, name))?.policy;
    if (!policy) throw objects.notFound(name);
    return policy;
  }

  /** The policy with `input` applied and validated, not yet stored. */
  async function changedPolicy(vault: Vault, name: string, input: PolicyInput): Promise<CertificatePolicy> {
    const policy = normalizePolicy(input, await getPolicy(vault, name));
    await gate.check("keyvault-policy-update", { vaultId: vault.id }, policyFacts(policy, clock.now()));
    return { ...policy, updatedAt: clock.now() };
  }

  /** A deleted certificate with the policy it was deleted with, as DeletedCertificateBundle carries it. */
  async function getDeleted(vault: Vault, name: string): Promise<DeletedCertificate> {
    const deleted = await objects.getDeleted(vault, name);
    return { ...deleted, policy: await store.getDeletedPolicy(vault.id, name) };
  }

  async function currentOperation(vault: Vault, name: string): Promise<CertificateOperation> {
    objects.checkName(name);
    const operation = await store.getOperation(vault.id, name);
    if (!operation) throw pendingNotFound(name);
    return operation;
  }

  async function issuerOf(
    vault: Vault,
    policy: CertificatePolicy,
  ): Promise<CertificateIssuer | "Self" | "Unknown"> {
    const issuerName = policy.issuer.name;
    if (issuerName.toLowerCase() === "self") return "Self";
    if (issuerName.toLowerCase() === "unknown") return "Unknown";
    const issuer = await store.getIssuer(vault.id, issuerName);
    if (!issuer) throw badParameter(`policy.issuer.name: no issuer named ${issuerName} exists in this vault`);
    if (!issuer.enabled) {
      throw badParameter(
        `policy.issuer.name: the issuer ${issuerName} is disabled; enable it or name another issuer`,
      );
    }
    return issuer;
  }

  function issuanceRequest(
    vault: Vault,
    operation: CertificateOperation,
    issuer: CertificateIssuer,
  ): IssuanceRequest {
    return {
      vaultId: vault.id,
      vaultName: vault.name,
      certificateName: operation.name,
      requestId: operation.requestId,
      version: operation.keyVersion,
      csr: operation.csr,
      policy: operation.policy,
      issuer,
    };
  }

  const unsupported = (issuer: CertificateIssuer): IssuanceResult => ({
    status: "failed",
    code: "UnsupportedIssuerProvider",
    message: `No issuer adapter serves provider "${issuer.provider}" in this installation`,
  });

  /** Records an adapter's answer: the issued version, the operation still pending, or its failure. */
  async function settle(
    vault: Vault,
    key: StoredKeyVersion,
    operation: CertificateOperation,
    result: IssuanceResult,
  ): Promise<CertificateOperation> {
    const now = clock.now();
    if (result.status === "issued") {
      const completed: CertificateOperation = {
        ...operation,
        status: "completed",
        statusDetails: undefined,
        keyMaterial: undefined,
        targetVersion: operation.keyVersion,
        updatedAt: now,
      };
      await issue(vault, operation.name, key, result.certificates, operation.policy, {
        tags: operation.tags,
        enabled: operation.versionEnabled,
        operation: completed,
      });
      return completed;
    }
    if (result.status === "pending") {
      const pending: CertificateOperation = {
        ...operation,
        statusDetails: result.details,
        keyMaterial: key.material,
        updatedAt: now,
      };
      await store.putOperation(pending);
      return pending;
    }
    await keys.destroy(key);
    const failed: CertificateOperation = {
      ...operation,
      status: "failed",
      statusDetails: undefined,
      keyMaterial: undefined,
      error: { code: result.code, message: result.message },
      updatedAt: now,
    };
    await store.putOperation(failed);
    return failed;
  }

  /** The adapter of a named issuer's operation, if the issuer still exists and one serves it. */
  async function adapterOf(vault: Vault, operation: CertificateOperation) {
    const issuer = await store.getIssuer(vault.id, operation.issuerName);
    return { issuer, adapter: issuer && adapters.get(issuer.provider.toLowerCase()) };
  }

  /** Self and issuers that answer at once complete on a poll; ACME's steps belong to the job. */
  async function completesOnPoll(vault: Vault, operation: CertificateOperation): Promise<boolean> {
    const issuerName = operation.issuerName.toLowerCase();
    if (!operation.keyMaterial) return false;
    // A poll hears the approvers' decision on a held create whatever its issuer.
    if (isHeld(operation) || issuerName === "self") return true;
    if (issuerName === "unknown") return false;
    return !(await adapterOf(vault, operation)).adapter?.resume;
  }

  /** One step of an operation's issuer: sign it (Self), ask the adapter, or resume what it began. */
  async function step(
    vault: Vault,
    operation: CertificateOperation,
    first: boolean,
  ): Promise<IssuanceResult | undefined> {
    const key = pendingKey(vault, operation);
    if (operation.issuerName.toLowerCase() === "self") {
      const certificate = await x509.selfSigned(operation.policy, keys.signer(vault, key), clock.now());
      return { status: "issued", certificates: [certificate] };
    }
    const { issuer, adapter } = await adapterOf(vault, operation);
    if (!issuer)
      return {
        status: "failed",
        code: "IssuerNotFound",
        message: `The issuer ${operation.issuerName} was deleted while the certificate was pending`,
      };
    if (!adapter) return unsupported(issuer);
    const request = issuanceRequest(vault, operation, issuer);
    return adapter.resume && !first ? adapter.resume(request) : adapter.issue(request);
  }

  const isHeld = (operation: CertificateOperation) =>
    operation.approvalId !== undefined && !operation.approvalReleased;

  /**
   * The approval request a create's rules call for, to be stored with the operation, or undefined
   * when none does. The requester defaults to "unknown" only for callers inside the process, which
   * have no principal.
   */
  async function holdForApproval(
    vault: Vault,
    operation: CertificateOperation,
    facts: ReturnType<typeof policyFacts>,
    requester: string | undefined,
  ): Promise<ApprovalChange | undefined> {
    const approval = deps.approval;
    if (!approval) return undefined;
    const scope = { vaultId: vault.id };
    const requirements = await approval.requirements("keyvault-create", scope);
    if (requirements.length === 0) return undefined;
    return approval.service.prepare({
      entry: "keyvault-create",
      scope,
      requester: requester ?? "unknown",
      facts,
      requirements,
      payload: { vaultId: vault.id, name: operation.name, requestId: operation.requestId },
    });
  }

  /**
   * A held operation as its approval leaves it: unchanged while pending, failed once denied or
   * expired, released (not yet stored) once approved. An Unknown issuer's release is stored at
   * once, since no issuer step follows: it waits for its merge.
   */
  async function throughApproval(
    vault: Vault,
    operation: CertificateOperation,
  ): Promise<CertificateOperation> {
    const approval = await (deps.approval as CreateApproval).service.get(operation.approvalId as string);
    if (approval.state === "pending") return operation;
    if (approval.state !== "approved")
      return settle(vault, pendingKey(vault, operation), operation, refusal(approval));
    const released = { ...operation, approvalReleased: true, updatedAt: clock.now() };
    if (operation.issuerName.toLowerCase() !== "unknown") return released;
    const waiting = { ...released, statusDetails: PENDING_MERGE };
    await store.putOperation(waiting);
    return waiting;
  }

  /** The withdrawal of the approval request a held operation waits for, when it is still pending. */
  async function withdrawal(
    operation: CertificateOperation,
    why: string,
  ): Promise<ApprovalChange | undefined> {
    if (operation.status !== "inProgress" || !isHeld(operation) || !deps.approval) return undefined;
    return deps.approval.service.withdrawal(operation.approvalId as string, why);
  }

  // Polls, the pending-issuance job and a renewal may move the same operation at once; in one
  // process they share one step, so a Self certificate is signed and stored once.
  const advancing = new Map<string, Promise<CertificateOperation | undefined>>();

  /**
   * Moves an operation in progress one step on (the poll, the pending-issuance job) and completes
   * or fails it through settle. A cancel, a delete or another node that finished first wins: the
   * step's result is dropped.
   */
  function advance(vault: Vault, name: string): Promise<CertificateOperation | undefined> {
    const slot = `${vault.id}/${name.toLowerCase()}`;
    const running = advancing.get(slot);
    if (running) return running;
    const next = (async () => {
      const stored = await store.getOperation(vault.id, name);
      if (stored?.status !== "inProgress" || !stored.keyMaterial) return stored;
      const first = isHeld(stored);
      const operation = first ? await throughApproval(vault, stored) : stored;
      if (
        operation.status !== "inProgress" ||
        isHeld(operation) ||
        operation.issuerName.toLowerCase() === "unknown"
      )
        return operation;
      const result = await step(vault, operation, first);
      if (!result) return operation;
      const latest = await store.getOperation(vault.id, name);
      if (latest?.requestId !== operation.requestId || latest.status !== "inProgress") return latest;
      try {
        return await settle(vault, pendingKey(vault, operation), operation, result);
      } catch (error) {
        const after = await store.getOperation(vault.id, name);
        if (after?.requestId === operation.requestId && after.status !== "inProgress") return after;
        throw error;
      }
    })().finally(() => advancing.delete(slot));
    advancing.set(slot, next);
    return next;
  }

  return {
    /** Begins a new version: Self completes at once, Unknown waits for a merge, named issuers go to their adapter. */
    async create(vault: Vault, name: string, request: CreateRequest): Promise<CertificateOperation> {
      const base = await checkNewVersionAllowed(vault, name);
      if (!request.policy && !base)
        throw badParameter("policy is required for a certificate's first version");
      const policy = normalizePolicy(request.policy ?? {}, base);
      const tags = validateTags(request.tags);
      const facts = policyFacts(policy, clock.now());
      await gate.check("keyvault-create", { vaultId: vault.id }, facts);
      const issuer = await issuerOf(vault, policy);
      const version = newVersion();
      const key = await newKeyFor(vault, name, version, policy);
      const now = clock.now();
      const signer = keys.signer(vault, key);
      let operation: CertificateOperation = {
        vaultId: vault.id,
        name,
        requestId: newVersion(),
        status: "inProgress",
        issuerName: policy.issuer.name,
        csr: Buffer.alloc(0),
        cancellationRequested: false,
        policy,
        tags,
        keyVersion: version,
        versionEnabled: request.enabled,
        createdAt: now,
        updatedAt: now,
      };
      try {
        operation.csr = await x509.csr(policy, signer);
        const held = await holdForApproval(vault, operation, facts, request.requester);
        if (held) {
          // Nothing reaches the issuer before the approvers agree; polls and the job look again.
          operation = {
            ...operation,
            statusDetails: awaitingApproval(held.request),
            keyMaterial: key.material,
            approvalId: held.request.id,
          };
          await store.putOperation(operation, held);
          return operation;
        }
        if (issuer === "Unknown") {
          operation = { ...operation, statusDetails: PENDING_MERGE, keyMaterial: key.material };
          await store.putOperation(operation);
          return operation;
        }
        const adapter = issuer === "Self" ? undefined : adapters.get(issuer.provider.toLowerCase());
        if (adapter?.resume) {
          // An issuer that works for minutes (ACME) gets the request now; the job moves it on.
          const result = await adapter.issue(issuanceRequest(vault, operation, issuer as CertificateIssuer));
          return await settle(vault, key, operation, result);
        }
        // Key Vault answers every create "inProgress" and completes it on a later poll; the Python
        // SDK's poller fetches the certificate only after it saw the operation in progress.
        operation = {
          ...operation,
          statusDetails: PENDING_ISSUER,
          keyMaterial: key.material,
        };
        await store.putOperation(operation);
        return operation;
      } catch (error) {
        await keys.destroy(key);
        throw error;
      }
    },

    /**
     * New versions made at once, signed but not stored, for a caller that stores many together
     * with what else they change (a campaign batch: see `CampaignStore.commit`); one answer per
     * request, in order. Each policy is the certificate's with `change` applied (worked out from that
     * certificate's policy), stored with the version. What Key Vault's rules for a new version, the organisation rules, the approval rules
     * and the issuers look at is read once for the whole batch. "unbatched" when a version cannot be
     * made this way: its issuer answers later or signs nothing here (ACME, Unknown, Self), or the
     * approval rules hold creates in the vault; the caller then creates it as a client would. An
     * HSM key is made under its request's `hsmId`, which the caller records first so that the key of
     * a version never stored can be destroyed after a crash (`discardUnstored`).
     */
    async prepareNewVersions(
      vault: Vault,
      requests: readonly { name: string; hsmId?: Buffer | undefined }[],
      change: PolicyChange | undefined,
    ): Promise<Reissue[]> {
      const out: Reissue[] = [];
      const fail = (at: number, error: unknown) => {
        out[at] = { status: "failed", message: (error as Error).message };
      };
      const named = requests.flatMap(({ name }, at) => {
        try {
          objects.checkName(name);
          return [name];
        } catch (error) {
          fail(at, error);
          return [];
        }
      });
      const [states, batchGate, held] = await Promise.all([
        store.newVersionStates(vault.id, named),
        gate.snapshot?.() ?? gate,
        deps.approval
          ? deps.approval.requirements("keyvault-create", { vaultId: vault.id }).then((r) => r.length > 0)
          : false,
      ]);
      const issuers = new Map<string, Promise<CertificateIssuer | "Self" | "Unknown">>();
      const now = clock.now();
      const planned: {
        at: number;
        name: string;
        hsmId?: Buffer | undefined;
        policy: CertificatePolicy;
        issuer: CertificateIssuer;
        adapter: IssuerAdapter;
      }[] = [];
      await Promise.all(
        requests.map(async ({ name, hsmId }, at) => {
          if (out[at]) return;
          try {
            const state = states.get(name.toLowerCase());
            if (state?.deleted) throw deletedButRecoverable("Certificate", name);
            if (state?.unmanagedNamesake) throw state.unmanagedNamesake;
            if (state?.operationStatus === "inProgress") throw pendingInProgress();
            if (!state?.policy) throw objects.notFound(name);
            const policy = normalizePolicy(change?.(state.policy) ?? {}, state.policy);
            await batchGate.check("keyvault-create", { vaultId: vault.id }, policyFacts(policy, now));
            if (held) {
              out[at] = { status: "unbatched" };
              return;
            }
            const issuerName = policy.issuer.name.toLowerCase();
            if (!issuers.has(issuerName)) issuers.set(issuerName, issuerOf(vault, policy));
            const issuer = await (issuers.get(issuerName) as Promise<CertificateIssuer | "Self" | "Unknown">);
            const adapter =
              typeof issuer === "string" ? undefined : adapters.get(issuer.provider.toLowerCase());
            if (!adapter?.prepare || typeof issuer === "string") out[at] = { status: "unbatched" };
            else planned.push({ at, name, hsmId, policy, issuer, adapter });
          } catch (error) {
            fail(at, error);
          }
        }),
      );
      const keyed = await Promise.all(
        planned.map(async (p) => {
          const version = newVersion();
          try {
            return { ...p, version, key: await newKeyFor(vault, p.name, version, p.policy, p.hsmId) };
          } catch (error) {
            fail(p.at, error);
            return undefined;
          }
        }),
      );
      const byAdapter = new Map<IssuerAdapter, NonNullable<(typeof keyed)[number]>[]>();
      for (const k of keyed) if (k) byAdapter.set(k.adapter, [...(byAdapter.get(k.adapter) ?? []), k]);
      for (const [adapter, batch] of byAdapter) {
        let signed: PreparedIssuance[];
        try {
          signed = await (adapter.prepare as NonNullable<IssuerAdapter["prepare"]>)(
            batch.map(({ name, version, key, policy, issuer }) => ({
              vaultId: vault.id,
              vaultName: vault.name,
              certificateName: name,
              version,
              publicKey: key.publicKey,
              policy,
              issuer,
            })),
          );
        } catch (error) {
          for (const { at, key } of batch) {
            await keys.destroy(key);
            fail(at, error);
          }
          continue;
        }
        await Promise.all(
          batch.map(async ({ at, name, key, policy }, n) => {
            const one = signed[n] as PreparedIssuance;
            try {
              if (one.status === "failed") {
                await keys.destroy(key);
                out[at] = { status: "failed", message: one.message };
                return;
              }
              // The CA's certificates come leaf first, then its own chain.
              const { issued: record } = one.record;
              const read = x509.signedHere(record.der, one.certificates.slice(1), record);
              const issued = await prepareIssued(vault, name, key, read, policy, {});
              out[at] = { status: "prepared", version: issued, record: one.record };
            } catch (error) {
              await keys.destroy(key);
              fail(at, error);
            }
          }),
        );
      }
      return out;
    },

    /** Destroys the key of a prepared version whose transaction did not commit (an HSM object). */
    async discard(version: IssuedVersion): Promise<void> {
      await keys.destroy(version.key);
    },

    /** Destroys the HSM keys prepared under these ids by an attempt that died before storing them. */
    discardUnstored: (hsmIds: readonly Buffer[]) => keys.destroyUnstored(hsmIds),

    /**
     * The operation, moved on first when it completes on a poll (Self, or an issuer that answers at
     * once): Key Vault's clients poll until it leaves inProgress.
     */
    getOperation: currentOperation,

    async pollOperation(vault: Vault, name: string): Promise<CertificateOperation> {
      const operation = await currentOperation(vault, name);
      if (operation.status !== "inProgress" || !(await completesOnPoll(vault, operation))) return operation;
      return (await advance(vault, name)) ?? operation;
    },

    advance,

    async cancelOperation(vault: Vault, name: string): Promise<CertificateOperation> {
      const operation = await currentOperation(vault, name);
      if (operation.status !== "inProgress") {
        throw badParameter(
          `The certificate operation is ${operation.status}; only one in progress can be cancelled`,
        );
      }
      const cancelled: CertificateOperation = {
        ...operation,
        cancellationRequested: true,
        status: "cancelled",
        keyMaterial: undefined,
        updatedAt: clock.now(),
      };
      await store.putOperation(
        cancelled,
        await withdrawal(operation, "the certificate operation was cancelled"),
      );
      if (operation.keyMaterial) await keys.destroy(pendingKey(vault, operation));
      return cancelled;
    },

    async deleteOperation(vault: Vault, name: string): Promise<CertificateOperation> {
      const operation = await currentOperation(vault, name);
      await store.deleteOperation(
        vault.id,
        name,
        await withdrawal(operation, "the certificate operation was deleted"),
      );
      if (operation.keyMaterial) await keys.destroy(pendingKey(vault, operation));
      return operation;
    },

    /** Completes an Unknown-issuer operation with the certificate its CA signed (and the chain). */
    async merge(
      vault: Vault,
      name: string,
      x5c: Buffer[],
      extras: { tags?: Record<string, string> | undefined; enabled?: boolean | undefined },
    ): Promise<CertificateVersion> {
      const current = await currentOperation(vault, name);
      const operation =
        current.status === "inProgress" && isHeld(current) ? await throughApproval(vault, current) : current;
      if (operation.status !== "inProgress" || !operation.keyMaterial) {
        throw new DomainError("NotFound", `Certificate ${name} has no operation waiting for a merge`, {
          reason: "PendingCertificateNotFound",
        });
      }
      if (isHeld(operation)) {
        throw new DomainError(
          "Conflict",
          `The pending certificate ${name} awaits approval request ${operation.approvalId}; it can be merged once approved`,
          { reason: "PendingCertificateAwaitsApproval" },
        );
      }
      if (operation.issuerName.toLowerCase() !== "unknown") {
        throw new DomainError(
          "Forbidden",
          `The pending certificate ${name} is being issued by ${operation.issuerName}; it cannot be merged`,
        );
      }
      if (x5c.length === 0) throw badParameter("x5c must hold the certificate and, optionally, its chain");
      const certificates = x5c.flatMap((entry) => x509.readCertificate(entry));
      const { leaf, chain, verdict } = x509.orderChain(certificates);
      const facts = x509.inspect(leaf);
      if (!samePublicKey(facts.publicKey, x509.csrPublicKey(operation.csr))) {
        throw badParameter(
          "The certificate's public key does not match the pending certificate's key; merge the certificate issued for its CSR",
        );
      }
      if (facts.notAfter.getTime() <= clock.now().getTime()) {
        throw badParameter(`The certificate expired on ${facts.notAfter.toISOString()}`);
      }
      requireCompleteChain(vault, verdict, "merge it with the certificate in x5c");
      await checkHandedIn("keyvault-merge", vault, leaf, chain, operation.policy);
      const key = pendingKey(vault, operation);
      const completed: CertificateOperation = {
        ...operation,
        status: "completed",
        statusDetails: undefined,
        keyMaterial: undefined,
        targetVersion: operation.keyVersion,
        updatedAt: clock.now(),
      };
      return issue(vault, name, key, certificates, operation.policy, {
        tags: extras.tags ?? operation.tags,
        enabled: extras.enabled,
        operation: completed,
      });
    },

    /** Imports a PFX or PEM with its private key; the chain is put in order and checked against the key. */
    async import(vault: Vault, name: string, request: ImportRequest): Promise<CertificateVersion> {
      const base = await checkNewVersionAllowed(vault, name);
      const content = importedContent(request.value);
      const pem = "pem" in content;
      const parsed =
        "pem" in content
          ? codec.parsePem(content.pem, request.password)
          : codec.parsePfx(content.pfx, request.password);
      if (!parsed.pkcs8) throw badParameter("The imported value holds no private key");
      if (parsed.certificates.length === 0) throw badParameter("The imported value holds no certificate");
      const { leaf, chain, verdict } = x509.orderChain(parsed.certificates);
      requireCompleteChain(vault, verdict, "import it with the certificate");
      const facts = x509.inspect(leaf);
      const jwk = codec.pkcs8ToJwk(parsed.pkcs8);
      parsed.pkcs8.fill(0);
      const keyPublic = jwk.kty === "RSA" ? { n: jwk.n, e: jwk.e } : { crv: jwk.crv, x: jwk.x, y: jwk.y };
      if (!samePublicKey(facts.publicKey, keyPublic)) {
        throw badParameter("The private key does not belong to the leaf certificate");
      }
      const given = {
        subject: facts.subject,
        issuer: { name: "Unknown" },
        contentType: pem ? "application/x-pem-file" : "application/x-pkcs12",
        ...request.policy,
        key: importedKeyProps(importedKey(jwk), request.policy?.key),
      };
      const policy = importedPolicy(given, x509.profile(leaf), base);
      await checkHandedIn("keyvault-import", vault, leaf, chain, policy);
      const version = newVersion();
      const key = await keys.importKey(vault, name, version, jwk, policy);
      try {
        return await issue(vault, name, key, parsed.certificates, policy, {
          tags: request.tags,
          enabled: request.enabled,
        });
      } catch (error) {
        await keys.destroy(key);
        throw error;
      }
    },

    async get(vault: Vault, name: string, version?: string): Promise<CertificateVersion> {
      return objects.find(vault, name, version);
    },

    /**
     * Changes a version's attributes and tags, and the policy when given, in one transaction. Its key
     * and secret versions take its `enabled`, as Key Vault mirrors it: a disabled certificate's key
     * does not sign and its secret is not read. A certificate's nbf and exp are its X.509's and are
     * not changed here, so there are none to mirror.
     */
    async update(
      vault: Vault,
      name: string,
      version: string | undefined,
      changes: {
        enabled?: boolean | undefined;
        tags?: Record<string, string> | undefined;
        policy?: PolicyInput | undefined;
      },
    ): Promise<CertificateVersion> {
      const found = await objects.find(vault, name, version);
      const next = withAttributeChanges(found, { enabled: changes.enabled, tags: changes.tags }, clock.now());
      const policy = changes.policy && (await changedPolicy(vault, name, changes.policy));
      await store.updateIssued(next, policy);
      return next;
    },

    getPolicy,

    async updatePolicy(vault: Vault, name: string, input: PolicyInput): Promise<CertificatePolicy> {
      const policy = await changedPolicy(vault, name, input);
      await store.putPolicy(vault.id, name, policy);
      return policy;
    },

    list: objects.list,

    /**
     * The certificates, then (includePending) those still waiting for their first version, as one
     * listing whose pages hold at most `maxResults` entries. The continuation says which of the two
     * it is in: `c:` and the store's cursor, or `p:` and the last pending name.
     */
    async listWithPending(
      vault: Vault,
      after: string | undefined,
      maxResults: number | undefined,
    ): Promise<Page<CertificateListEntry>> {
      const limit = pageLimit(maxResults);
      let items: CertificateListEntry[] = [];
      let pendingAfter = "";
      if (after === undefined || after.startsWith(CERTIFICATES_CURSOR)) {
        const certificates = await objects.list(vault, after?.slice(CERTIFICATES_CURSOR.length), limit);
        items = certificates.items.map((certificate) => ({ certificate }));
        if (certificates.next !== undefined)
          return { items, next: `${CERTIFICATES_CURSOR}${certificates.next}` };
      } else if (after.startsWith(PENDING_CURSOR)) {
        pendingAfter = after.slice(PENDING_CURSOR.length);
      } else {
        throw badParameter("The $skiptoken does not continue a listing with includePending=true");
      }
      const pending: CertificateListEntry[] = [];
      const operations = (await store.listOperations(vault.id))
        .filter((o) => o.status === "inProgress" && o.name.toLowerCase() > pendingAfter)
        .sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
      for (const operation of operations) {
        if (items.length + pending.length > limit) break;
        // A pending renewal of a certificate that exists is listed as that certificate.
        if (!(await store.findLatest(vault.id, operation.name))) pending.push({ pending: operation });
      }
      const fits = pending.slice(0, limit - items.length);
      const last = fits.at(-1);
      items.push(...fits);
      if (fits.length === pending.length) return { items };
      const lastName = last && "pending" in last ? last.pending.name.toLowerCase() : "";
      return { items, next: `${PENDING_CURSOR}${lastName}` };
    },

    listVersions: objects.listVersions,

    /** Soft-deletes the certificate with its key and secret. */
    async remove(vault: Vault, name: string): Promise<DeletedCertificate> {
      objects.checkName(name);
      const now = clock.now();
      const purgeAt = new Date(now.getTime() + vault.softDeleteRetentionDays * 86_400_000);
      const deleted = lifecycleEvent("CertificateDeleted", vault, name, now);
      const operation = await store.getOperation(vault.id, name);
      const withdrawn = operation && (await withdrawal(operation, "the certificate was deleted"));
      if (!(await store.softDeleteWithBacking(vault.id, name, now, purgeAt, [deleted], withdrawn)))
        throw objects.notFound(name);
      return getDeleted(vault, name);
    },

    getDeleted,
    listDeleted: objects.listDeleted,

    async recover(vault: Vault, name: string): Promise<CertificateVersion> {
      objects.checkName(name);
      const recovered = lifecycleEvent("CertificateRecovered", vault, name, clock.now());
      if (!(await store.recoverWithBacking(vault.id, name, [recovered]))) throw objects.deletedNotFound(name);
      return objects.find(vault, name);
    },

    /** Purges a certificate whose retention has ended, with its key and secret; false when none was due. */
    async purgeDue(vault: Vault, name: string): Promise<boolean> {
      if (!(await objects.dueForPurge(vault, name))) return false;
      await purgeWithBacking(vault, name);
      return true;
    },

    async purge(vault: Vault, name: string): Promise<void> {
      await objects.checkPurgeAllowed(vault, name);
      await purgeWithBacking(vault, name);
    },

    /** A sealed blob of every version (certificates, chain and private key), restorable under the same master key. */
    async backup(vault: Vault, name: string): Promise<Buffer> {
      objects.checkName(name);
      const versions = await store.allVersions(vault.id, name);
      if (versions.length === 0) throw objects.notFound(name);
      const policy = await getPolicy(vault, name);
      const keyVersions = await keys.versions(vault, name);
      const document: CertificateBackup = {
        kind: "certificate",
        name: versions[0]?.name ?? name,
        policy,
        versions: [],
      };
      for (const v of versions) {
        const key = keyVersions.find((k) => k.version === v.version);
        if (!key) throw new Error(`Certificate ${name} version ${v.version} has no key version`);
        const pkcs8 = await keys.exportForBackup(vault, key);
        document.versions.push({
          version: v.version,
          tags: v.tags,
          enabled: v.enabled,
          createdAt: v.createdAt.getTime(),
          certificates: [v.cer, ...v.chain].map((c) => c.toString("base64")),
          pkcs8: pkcs8.toString("base64"),
        });
        pkcs8.fill(0);
      }
      return sealer.seal(Buffer.from(JSON.stringify(document)), BACKUP_CONTEXT);
    },

    async restore(vault: Vault, blob: Uint8Array): Promise<CertificateVersion> {
      const document = openBackup<CertificateBackup>(sealer, BACKUP_CONTEXT, blob);
      if (document.kind !== "certificate" || document.versions.length === 0) {
        throw badParameter("The backup blob does not hold a certificate");
      }
      const policy: CertificatePolicy = {
        ...document.policy,
        createdAt: document.policy.createdAt && new Date(document.policy.createdAt),
        updatedAt: document.policy.updatedAt && new Date(document.policy.updatedAt),
      };
      const issued: IssuedVersion[] = [];
      try {
        for (const v of document.versions) {
          const key = await keys.importKey(
            vault,
            document.name,
            v.version,
            codec.pkcs8ToJwk(Buffer.from(v.pkcs8, "base64")),
            policy,
          );
          const certificates = v.certificates.map((c) => Buffer.from(c, "base64"));
          const prepared = await prepareIssued(vault, document.name, key, certificates, policy, {
            tags: v.tags,
            enabled: v.enabled,
            createdAt: new Date(v.createdAt),
          });
          issued.push(prepared);
          requireCompleteChain(
            vault,
            prepared.certificate.chainVerdict,
            `version ${v.version} of the backup cannot be restored into this vault`,
          );
        }
        const now = clock.now();
        await store.restoreIssued(
          issued,
          issued.map((i) => objectEvent("CertificateRestored", vault, "Certificate", i.certificate, now)),
        );
      } catch (error) {
        for (const i of issued) await keys.destroy(i.key);
        throw error;
      }
      const latest = issued[issued.length - 1] as IssuedVersion;
      return latest.certificate;
    },
  };

  /**
   * Purges the certificate with its key, secret and operation, then destroys their key material:
   * every key version's, and a renewal's still waiting in the operation (an HSM object otherwise
   * left on the token).
   */
  async function purgeWithBacking(vault: Vault, name: string): Promise<void> {
    const purged = await store.purgeWithBacking(vault.id, name, [
      lifecycleEvent("CertificatePurged", vault, name, clock.now()),
    ]);
    if (!purged) return;
    for (const key of purged.keys) await keys.destroy(key);
    if (purged.operation?.keyMaterial) await keys.destroy(pendingKey(vault, purged.operation));
  }

  function pendingKey(vault: Vault, operation: CertificateOperation): StoredKeyVersion {
    const { kty } = operation.policy.key;
    const publicKey = x509.csrPublicKey(operation.csr);
    const now = clock.now();
    return {
      vaultId: vault.id,
      name: operation.name,
      version: operation.keyVersion,
      kind: kty.startsWith("RSA") ? "RSA" : "EC",
      protection: kty.endsWith("-HSM") ? "hsm" : "software",
      keySize: operation.policy.key.keySize,
      curve: vaultCurve(publicKey),
      keyOps: kty.startsWith("RSA")
        ? ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
        : ["sign", "verify"],
      publicKey,
      exportable: false,
      tags: {},
      enabled: true,
      managed: true,
      material: operation.keyMaterial ?? Buffer.alloc(0),
      createdAt: operation.createdAt,
      updatedAt: now,
    };
  }
}

/** A deletion, recovery or purge of a whole certificate (all versions): an event for the inventory. */
function lifecycleEvent(type: InternalEventType, vault: Vault, name: string, now: Date) {
  return objectEvent(type, vault, "Certificate", { name, version: "" }, now);
}
