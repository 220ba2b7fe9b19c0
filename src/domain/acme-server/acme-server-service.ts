import { createHmac, timingSafeEqual } from "node:crypto";
import type { ApprovalGate } from "../approvals/approval-service.js";
import type { ApprovalRequest } from "../approvals/model.js";
import type { ApprovalChange } from "../approvals/ports.js";
import type { CaService } from "../ca/ca-service.js";
import { type CsrFacts, REVOCATION_REASONS, type RevocationReason } from "../ca/model.js";
import type { CaX509 } from "../ca/ports.js";
import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import { newId, randomPart } from "../ids.js";
import type { SubjectAltName } from "../inventory/model.js";
import type { CertificateRequestFacts, IssuanceGate, RuleScope } from "../rules/issuance-gate.js";
import type { Sealer } from "../sealing/ports.js";
import { eabContext } from "./acme-profile-service.js";
import type {
  AcmeAccount,
  AcmeAuthorization,
  AcmeChallenge,
  AcmeOrder,
  AcmeProblem,
  AcmeProfile,
  ChallengeType,
  ClaimedChallenge,
  Identifier,
  ValidationOutcome,
} from "./model.js";
import type { AcmeJws, AcmeServerStore, ChallengeValidator, KeyFacts, ParsedJws } from "./ports.js";
import { acmeError } from "./problems.js";

export interface AcmeServerDeps {
  store: AcmeServerStore;
  jws: AcmeJws;
  sealer: Sealer;
  clock: Clock;
  ca: Pick<CaService, "signRequest" | "findIssued" | "revoke" | "get">;
  x509: Pick<CaX509, "readCsr" | "readCertificate">;
  /** The key of a CSR as readCsr read it. */
  keyFacts: (csr: Pick<CsrFacts, "publicKey" | "key">) => KeyFacts;
  validator: ChallengeValidator;
  gate: IssuanceGate;
  /** The installation's nonce key, the same on every node (see main.ts). */
  nonceKey: () => Promise<Buffer>;
  /**
   * Given a challenge this node started and holds the lease of, with its validation still under
   * way, to record the outcome once it comes (see `validate`); without it the challenge waits for
   * `validatePending` once the lease runs out.
   */
  queued?: ((challenge: ClaimedChallenge, outcome: Promise<ValidationOutcome>) => void) | undefined;
  /** Holds the finalizes the approval rules match until approvers agree; none is held when absent. */
  approval?: ApprovalGate | undefined;
}

/** Where a request arrived: the profile in its path and the URL the client signed (RFC 8555 §6.4). */
export interface AcmeRequest {
  profile: string;
  url: string;
  /** The account URL of an account id: what `kid` must be (RFC 8555 §6.2). */
  accountUrl: (id: string) => string;
  body: unknown;
}

export interface Authenticated {
  profile: AcmeProfile;
  jws: ParsedJws;
  /** The payload as JSON; undefined for POST-as-GET (RFC 8555 §6.3). */
  payload: unknown;
  account?: AcmeAccount | undefined;
  jwk?: Record<string, unknown> | undefined;
}

const ALGORITHMS = new Set(["ES256", "ES384", "ES512", "RS256", "EdDSA"]);
const EAB_ALGORITHMS = new Set(["HS256", "HS384", "HS512"]);
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Nonces are used within seconds; an hour covers clients that pause between steps. */
const NONCE_MS = HOUR_MS;
const NONCE_BODY_BYTES = 16;
const NONCE_MAC_BYTES = 16;
const ORDER_MS = 7 * DAY_MS;
/** A reused authorization must outlive the new order's likely finalize by this much (Boulder: a day). */
const REUSE_REMAINING_MS = DAY_MS;
/** How far in the past a notBefore may lie: a client's clock may run behind. */
const NOT_BEFORE_SKEW_MS = HOUR_MS;
/** RFC 8555 §7.1.2.1: orders listed per page; the Link rel="next" header leads to the rest. */
export const ORDERS_PAGE_SIZE = 100;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const MAX_IDENTIFIERS = 100;
const LEASE_MS = 60_000;
/**
 * How long a challenge POST waits for its validation, to answer with the outcome (RFC 8555 §7.5.1:
 * the challenge may be valid in the response) instead of processing. A responder on the client's
 * network answers within milliseconds; past this the answer is processing and the outcome is
 * recorded when it comes, so a client whose own responder is slow is not kept waiting on its POST.
 */
const VALIDATION_WAIT_MS = 1_000;
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+(:(\d{1,3}\.){3}\d{1,3})?$/;
const EMAIL = /^mailto:[^@\s,]+@[^@\s,]+\.[^@\s,]+$/i;

const b64u = (text: string): Buffer => Buffer.from(text, "base64url");
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function jsonPayload(jws: ParsedJws): unknown {
  if (jws.payload.length === 0) return undefined;
  try {
    return JSON.parse(jws.payload.toString("utf8"));
  } catch {
    throw acmeError("malformed", "The JWS payload is not JSON");
  }
}

function objectPayload(payload: unknown): Record<string, unknown> {
  if (!isRecord(payload)) throw acmeError("malformed", "This request needs a JSON object as its payload");
  return payload;
}

/** Checks and canonicalizes an identifier (RFC 8555 §7.1.4, RFC 8738 §3). */
function checkIdentifier(raw: unknown): Identifier {
  if (!isRecord(raw) || typeof raw.type !== "string" || typeof raw.value !== "string")
    throw acmeError("malformed", "Each identifier is an object with type and value strings");
  if (raw.type === "dns") {
    const value = raw.value.toLowerCase();
    const name = value.startsWith("*.") ? value.slice(2) : value;
    const labels = name.split(".");
    if (name.length > 253 || labels.length < 2 || !labels.every((l) => DNS_LABEL.test(l)))
      throw acmeError("rejectedIdentifier", `"${raw.value}" is not a fully qualified DNS name`);
    if (IPV4.test(name))
      throw acmeError("malformed", `"${raw.value}" is an IP address: use an identifier of type ip`);
    return { type: "dns", value };
  }
  if (raw.type === "ip") {
    const value = raw.value.toLowerCase();
    if (!IPV4.test(value) && !(value.includes(":") && IPV6.test(value)))
      throw acmeError("malformed", `"${raw.value}" is not an IPv4 or IPv6 address`);
    return { type: "ip", value };
  }
  throw acmeError("unsupportedIdentifier", `Identifier type "${raw.type}" is not supported; use dns or ip`);
}

/** RFC 8555 §8.4 wildcards only by dns-01; RFC 8738 §7 IP addresses never by dns-01. */
function challengeTypes(identifier: Identifier): ChallengeType[] {
  if (identifier.type === "ip") return ["http-01", "tls-alpn-01"];
  if (identifier.value.startsWith("*.")) return ["dns-01"];
  return ["http-01", "dns-01", "tls-alpn-01"];
}

const problem = (error: DomainError, type: string, status: number): AcmeProblem => ({
  type,
  detail: error.message,
  status,
});

const sameSet = (a: string[], b: string[]) => {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
};

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial DER content). */
function serialOfCertId(certId: string): string {
  const parts = certId.split(".");
  const serial = parts[1];
  if (parts.length !== 2 || !parts[0] || !serial || !/^[A-Za-z0-9_-]+$/.test(certId.replace(".", "")))
    throw acmeError("malformed", "A renewal info certID is base64url(keyIdentifier).base64url(serial)");
  const hex = b64u(serial)
    .toString("hex")
    .replace(/^(00)+/, "");
  return hex === "" ? "00" : hex;
}

/** What `work` resolves to if it settles within `ms`; undefined if it takes longer. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let stop: () => void = () => undefined;
  const late = new Promise<undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    stop = () => clearTimeout(timer);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    stop();
  }
}

function timestamp(raw: unknown, name: string): Date | undefined {
  if (raw === undefined) return undefined;
  const ms = typeof raw === "string" && RFC3339.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms))
    throw acmeError("malformed", `${name} must be an RFC 3339 timestamp such as 2026-12-01T00:00:00Z`);
  return new Date(ms);
}

/** The validity an order asks for and the days it spans, which rules and approvals judge. */
interface OrderValidity {
  notBefore?: Date | undefined;
  notAfter?: Date | undefined;
  days: number;
}

/**
 * RFC 8555 §7.4 notBefore/notAfter: honoured exactly when the certificate would last no longer than
 * the profile's validity, refused otherwise. Only notBefore given: the profile's validity from there.
 */
function orderValidity(payload: Record<string, unknown>, profile: AcmeProfile, now: Date): OrderValidity {
  const notBefore = timestamp(payload.notBefore, "notBefore");
  const notAfter = timestamp(payload.notAfter, "notAfter");
  if (!notBefore && !notAfter) return { days: profile.validityDays };
  const maxMs = profile.validityDays * DAY_MS;
  const start = notBefore ?? now;
  const end = notAfter ?? new Date(start.getTime() + maxMs);
  if (end.getTime() <= start.getTime()) throw acmeError("malformed", "notAfter must be later than notBefore");
  if (end.getTime() <= now.getTime())
    throw acmeError("malformed", `notAfter ${end.toISOString()} has passed already`);
  if (notBefore && notBefore.getTime() < now.getTime() - NOT_BEFORE_SKEW_MS)
    throw acmeError(
      "malformed",
      "notBefore may lie at most an hour in the past: certificates are not backdated",
    );
  if (notBefore && notBefore.getTime() > now.getTime() + maxMs)
    throw acmeError("malformed", `notBefore may lie at most ${profile.validityDays} days ahead`);
  const spanMs = end.getTime() - start.getTime();
  if (spanMs > maxMs)
    throw acmeError(
      "malformed",
      `notBefore to notAfter spans ${(spanMs / DAY_MS).toFixed(1)} days; directory ${profile.name} issues certificates of at most ${profile.validityDays} days`,
    );
  return { notBefore, notAfter: end, days: Math.ceil(spanMs / DAY_MS) };
}

const cursorOf = (order: AcmeOrder) =>
  Buffer.from(`${order.createdAt.getTime()}.${order.id}`).toString("base64url");

function readCursor(cursor: string): { createdAt: Date; id: string } {
  const match = /^(\d{1,15})\.([\w-]{1,64})$/.exec(b64u(cursor).toString("utf8"));
  if (!match) throw acmeError("malformed", "The cursor is not one this server handed out");
  return { createdAt: new Date(Number(match[1])), id: match[2] as string };
}

/** Why a held finalize will not be issued, as the order's error. */
function refusal(approval: ApprovalRequest): AcmeProblem {
  const denier = approval.votes.find((v) => v.decision === "deny");
  return {
    type: "unauthorized",
    detail:
      approval.state === "denied"
        ? `Approval request ${approval.id} was denied by ${denier?.principalId ?? "an approver"}: ${approval.outcome ?? denier?.reason ?? ""}`
        : `Approval request ${approval.id} expired at ${approval.expiresAt.toISOString()} without enough approvals`,
    status: 403,
  };
}

export type AcmeServerService = ReturnType<typeof createAcmeServerService>;

/** The ACME server (RFC 8555) of every profile, over the database and the private CA. */
export function createAcmeServerService(deps: AcmeServerDeps) {
  const { store, jws, clock, ca, x509, gate } = deps;
  /**
   * Validations this node has under way, by challenge id: a challenge is still pending while its
   * validation runs, so a client that posts it again (or many times at once) joins the one under way
   * instead of making this node fetch from the identifier's host again.
   */
  const validating = new Map<string, Promise<ValidationOutcome>>();

  async function profileNamed(name: string): Promise<AcmeProfile> {
    const profile = await store.getProfile(name);
    if (!profile) throw acmeError("notFound", `No ACME directory named ${name} here`);
    return profile;
  }

  /** True for a nonce this installation issued within NONCE_MS that nobody has used yet. */
  async function useNonce(nonce: string): Promise<boolean> {
    const raw = b64u(nonce);
    if (raw.length !== NONCE_BODY_BYTES + NONCE_MAC_BYTES) return false;
    const body = raw.subarray(0, NONCE_BODY_BYTES);
    const mac = createHmac("sha256", await deps.nonceKey())
      .update(body)
      .digest()
      .subarray(0, NONCE_MAC_BYTES);
    if (!timingSafeEqual(mac, raw.subarray(NONCE_BODY_BYTES))) return false;
    const expiresAt = body.readUIntBE(0, 6) + NONCE_MS;
    if (expiresAt <= clock.now().getTime()) return false;
    return store.useNonce(nonce, new Date(expiresAt));
  }

  const scope = (profile: AcmeProfile): RuleScope => ({
    caId: profile.caId,
    profile: { kind: "acme", name: profile.name },
  });

  /** A rule's refusal as the ACME error that names what to change. */
  async function checkGate(
    profile: AcmeProfile,
    facts: CertificateRequestFacts,
    type: "rejectedIdentifier" | "badCSR",
  ) {
    try {
      await gate.check("acme-server", scope(profile), facts);
    } catch (error) {
      if (error instanceof DomainError && error.reason === "PolicyViolation")
        throw acmeError(type, error.message, error);
      throw error;
    }
  }

  async function ownOrder(account: AcmeAccount, id: string): Promise<AcmeOrder> {
    const order = await store.getOrder(id);
    if (!order || order.profileId !== account.profileId)
      throw acmeError("notFound", `No order ${id} in this directory`);
    if (order.accountId !== account.id)
      throw acmeError("unauthorized", "This order belongs to another account");
    return order;
  }

  async function ownAuthorization(account: AcmeAccount, id: string): Promise<AcmeAuthorization> {
    const authz = await store.getAuthorization(id);
    if (!authz) throw acmeError("notFound", `No authorization ${id} here`);
    if (authz.accountId !== account.id)
      throw acmeError("unauthorized", "This authorization belongs to another account");
    return authz;
  }

  function requireAccount(auth: Authenticated): AcmeAccount {
    if (!auth.account)
      throw acmeError("malformed", "This request must be signed with the account's kid, not an embedded jwk");
    return auth.account;
  }

  async function checkContacts(raw: unknown): Promise<string[]> {
    if (raw === undefined) return [];
    if (!Array.isArray(raw) || !raw.every((c) => typeof c === "string"))
      throw acmeError("malformed", "contact must be an array of mailto: URLs");
    for (const contact of raw)
      if (!EMAIL.test(contact))
        throw acmeError("invalidContact", `Contact "${contact}" is not a mailto: URL with one address`);
    return raw;
  }

  /** RFC 8555 §7.3.4: the EAB JWS binds the account key to a key id made with the CLI. */
  async function bindExternalAccount(
    profile: AcmeProfile,
    raw: unknown,
    url: string,
    thumbprint: string,
  ): Promise<string> {
    const eab = jws.parse(raw);
    const { alg, kid } = eab.header;
    if (typeof alg !== "string" || !EAB_ALGORITHMS.has(alg))
      throw acmeError("malformed", "externalAccountBinding must be MACed with HS256, HS384 or HS512");
    if (eab.header.url !== url)
      throw acmeError("malformed", "externalAccountBinding url must be the newAccount URL");
    if (eab.header.nonce !== undefined)
      throw acmeError("malformed", "externalAccountBinding must not carry a nonce");
    if (typeof kid !== "string") throw acmeError("malformed", "externalAccountBinding needs a kid");
    const key = await store.getEabKey(kid);
    if (!key || key.profileId !== profile.id)
      throw acmeError("unauthorized", `EAB key id ${kid} is not one of this directory's keys`);
    if (key.accountId) throw acmeError("unauthorized", `EAB key id ${kid} is bound to another account`);
    const hmacKey = deps.sealer.open(key.sealedHmacKey, eabContext(kid));
    if (!(await jws.verifyMac(eab, hmacKey)))
      throw acmeError("unauthorized", "The externalAccountBinding MAC does not verify with that key id");
    const inner = jsonPayload(eab);
    if (!isRecord(inner) || (await jws.thumbprint(inner).catch(() => "")) !== thumbprint)
      throw acmeError("malformed", "The externalAccountBinding payload must be the account's public key");
    return kid;
  }

  async function certificateChain(caId: string, serial: string): Promise<Buffer[]> {
    const issued = await ca.findIssued(serial, caId);
    const authority = await ca.get(caId);
    return [issued.der, ...(authority.certificate ? [authority.certificate] : []), ...authority.chain];
  }

  /** The account's authorization a new order may reuse for `identifier`, per the profile's settings. */
  async function reusable(
    profile: AcmeProfile,
    account: AcmeAccount,
    identifier: Identifier,
    wildcard: boolean,
    now: Date,
  ): Promise<AcmeAuthorization | undefined> {
    if (!profile.authzReuse) return undefined;
    return store.findReusableAuthorization({
      accountId: account.id,
      identifier,
      wildcard,
      statuses: profile.pendingAuthzReuse ? ["valid", "pending"] : ["valid"],
      since: new Date(now.getTime() - profile.authzReuseMaxAgeHours * HOUR_MS),
      expiresAfter: new Date(now.getTime() + REUSE_REMAINING_MS),
    });
  }

  const daysOf = (order: AcmeOrder, profile: AcmeProfile): number => {
    if (!order.notAfter) return profile.validityDays;
    const start = order.notBefore ?? clock.now();
    return Math.ceil((order.notAfter.getTime() - start.getTime()) / DAY_MS);
  };

  /** The approval request the rules call for at this finalize, not yet stored; undefined when none. */
  async function proposeApproval(
    profile: AcmeProfile,
    account: AcmeAccount,
    order: AcmeOrder,
    subject: string,
    key: KeyFacts,
  ): Promise<ApprovalChange | undefined> {
    const approval = deps.approval;
    if (!approval) return undefined;
    const requirements = await approval.requirements("acme-server", scope(profile));
    if (requirements.length === 0) return undefined;
    return approval.service.prepare({
      entry: "acme-server",
      scope: scope(profile),
      requester: `acme-account:${account.id}`,
      facts: {
        subject,
        sans: order.identifiers.map((i): SubjectAltName => ({ type: i.type, value: i.value })),
        ...key,
        validityDays: daysOf(order, profile),
        ekus: profile.ekus,
      },
      requirements,
      payload: { profile: profile.name, orderId: order.id },
    });
  }

  /**
   * Signs an order's CSR; the certificate is stored in the transaction that makes the order (still
   * `from`) valid, so a finalize retried, raced by another node or taken again after a crash issues
   * one certificate. A refusal makes the order invalid; any other failure leaves it as it was, to be
   * finalized again (ready) or taken again once its lease runs out (processing).
   */
  async function issue(
    profile: AcmeProfile,
    order: AcmeOrder,
    csr: CsrFacts | Buffer,
    from: "ready" | "processing",
  ): Promise<AcmeOrder> {
    try {
      // A finalize hands over the CSR it has read and judged; a held one is read from its DER.
      const { issued } = await ca.signRequest(
        profile.caId,
        Buffer.isBuffer(csr) ? await x509.readCsr(csr) : csr,
        {
          validityDays: profile.validityDays,
          ekus: profile.ekus,
          validity: order.notAfter && { notBefore: order.notBefore, notAfter: order.notAfter },
        },
        { acmeOrder: { id: order.id, from }, approvalId: order.approvalId },
      );
      return { ...order, status: "valid", certificateSerial: issued.serial };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      if (error.reason === "AcmeOrderFinalized" || error.reason === "ApprovalAlreadyIssued")
        return (await store.getOrder(order.id)) ?? order;
      const badCsr = error.code === "BadParameter";
      await store.failOrder(
        order.id,
        badCsr
          ? problem(error, "badCSR", 400)
          : { type: "serverInternal", detail: "The CA could not sign the certificate", status: 500 },
      );
      if (badCsr) throw acmeError("badCSR", error.message, error);
      throw error;
    }
  }

  /** Validates a challenge against the client; a failure of our own side is the problem too. */
  async function check(item: ClaimedChallenge): Promise<ValidationOutcome> {
    const keyAuthorization = `${item.challenge.token}.${item.thumbprint}`;
    const error = await deps.validator.validate(item, keyAuthorization).catch(
      (cause: unknown): AcmeProblem => ({
        type: "serverInternal",
        detail: `Validation failed: ${(cause as Error).message}`,
        status: 500,
      }),
    );
    return { error };
  }

  /**
   * A finalize held for approval as the approvers leave it: processing while they decide, signed once
   * approved (by the node that takes it, or by the next one once a dead node's lease runs out),
   * invalid with the reason once denied or expired.
   */
  async function throughApproval(profile: AcmeProfile, order: AcmeOrder): Promise<AcmeOrder> {
    if (order.status !== "processing" || !order.approvalId || !deps.approval) return order;
    const approval = await deps.approval.service.get(order.approvalId);
    if (approval.state === "pending") return order;
    if (approval.state !== "approved") {
      const error = refusal(approval);
      await store.failOrder(order.id, error);
      return (await store.getOrder(order.id)) ?? { ...order, status: "invalid", error };
    }
    const now = clock.now();
    if (!order.heldCsr || !(await store.takeOrder(order.id, now, new Date(now.getTime() + LEASE_MS))))
      return order;
    try {
      return await issue(profile, order, order.heldCsr, "processing");
    } catch (error) {
      // The order records why it failed; the client reads that from the order, not from this poll.
      if (!(error instanceof DomainError)) throw error;
      return (await store.getOrder(order.id)) ?? order;
    }
  }

  const service = {
    profile: profileNamed,

    /**
     * A fresh nonce (RFC 8555 §7.2): its issue time and random bytes under the installation's HMAC,
     * so any node recognises it without a write; the database records it only once it is used.
     */
    async newNonce(): Promise<string> {
      const body = Buffer.alloc(NONCE_BODY_BYTES);
      body.writeUIntBE(clock.now().getTime(), 0, 6);
      randomPart(NONCE_BODY_BYTES - 6).copy(body, 6);
      const mac = createHmac("sha256", await deps.nonceKey())
        .update(body)
        .digest()
        .subarray(0, NONCE_MAC_BYTES);
      return Buffer.concat([body, mac]).toString("base64url");
    },

    /** RFC 8555 §6.2-6.5: parses and verifies a request's JWS, spends its nonce, finds its account. */
    async authenticate(request: AcmeRequest, options: { jwk?: boolean } = {}): Promise<Authenticated> {
      const profile = await profileNamed(request.profile);
      const parsed = jws.parse(request.body);
      const { alg, nonce, url, jwk, kid } = parsed.header;
      if (typeof alg !== "string" || !ALGORITHMS.has(alg))
        throw acmeError(
          "badSignatureAlgorithm",
          `JWS algorithm ${String(alg)} is not accepted; use ES256, ES384, ES512, RS256 or EdDSA`,
        );
      if (typeof nonce !== "string" || !(await useNonce(nonce)))
        throw acmeError("badNonce", "The nonce was used before, expired or never issued here; get a new one");
      if (url !== request.url)
        throw acmeError(
          "unauthorized",
          `The JWS url ${String(url)} is not this request's URL ${request.url}`,
        );
      if ((jwk === undefined) === (kid === undefined))
        throw acmeError("malformed", "The JWS protected header needs exactly one of jwk and kid");
      if (jwk !== undefined) {
        if (!options.jwk)
          throw acmeError(
            "malformed",
            "This request must be signed with the account's kid, not an embedded jwk",
          );
        if (!isRecord(jwk)) throw acmeError("malformed", "jwk must be a JSON Web Key object");
        if (!(await jws.verify(parsed, jwk)))
          throw acmeError("malformed", "The JWS signature does not verify with the embedded jwk");
        return { profile, jws: parsed, payload: jsonPayload(parsed), jwk };
      }
      const prefix = request.accountUrl("");
      const id = typeof kid === "string" && kid.startsWith(prefix) ? kid.slice(prefix.length) : "";
      const account = id ? await store.getAccount(id) : undefined;
      if (!account || account.profileId !== profile.id)
        throw acmeError("accountDoesNotExist", `No account ${String(kid)} in this directory`);
      if (account.status !== "valid") throw acmeError("unauthorized", `Account ${kid} is ${account.status}`);
      if (!(await jws.verify(parsed, account.jwk)))
        throw acmeError("malformed", "The JWS signature does not verify with the account's key");
      return { profile, jws: parsed, payload: jsonPayload(parsed), account };
    },

    /** RFC 8555 §7.3; `created` is false when the key had an account already. */
    async newAccount(auth: Authenticated, url: string): Promise<{ account: AcmeAccount; created: boolean }> {
      const jwk = auth.jwk;
      if (!jwk) throw acmeError("malformed", "newAccount must be signed with an embedded jwk");
      const payload = objectPayload(auth.payload);
      const thumbprint = await jws.thumbprint(jwk);
      const existing = await store.findAccount(auth.profile.id, thumbprint);
      if (existing) return { account: existing, created: false };
      if (payload.onlyReturnExisting === true)
        throw acmeError("accountDoesNotExist", "No account exists for this key");
      const contacts = await checkContacts(payload.contact);
      if (payload.externalAccountBinding === undefined && auth.profile.eabRequired)
        throw acmeError(
          "externalAccountRequired",
          `Directory ${auth.profile.name} requires an external account binding; ask its operator for an EAB key`,
        );
      const eabKeyId =
        payload.externalAccountBinding === undefined
          ? undefined
          : await bindExternalAccount(auth.profile, payload.externalAccountBinding, url, thumbprint);
      const account: AcmeAccount = {
        id: newId(),
        profileId: auth.profile.id,
        thumbprint,
        jwk,
        contacts,
        status: "valid",
        eabKeyId,
        createdAt: clock.now(),
      };
      await store.insertAccount(account);
      return { account, created: true };
    },

    /** RFC 8555 §7.3.2 and §7.3.6: contacts and deactivation; an empty payload reads it. */
    async updateAccount(auth: Authenticated, id: string): Promise<AcmeAccount> {
      const account = requireAccount(auth);
      if (account.id !== id) throw acmeError("unauthorized", "A request may only address its own account");
      if (auth.payload === undefined) return account;
      const payload = objectPayload(auth.payload);
      let next = account;
      if (payload.contact !== undefined) next = { ...next, contacts: await checkContacts(payload.contact) };
      if (payload.status !== undefined) {
        if (payload.status !== "deactivated")
          throw acmeError("malformed", 'An account status can only be changed to "deactivated"');
        next = { ...next, status: "deactivated" };
      }
      if (next !== account) await store.updateAccount(next);
      return next;
    },

    /** RFC 8555 §7.3.5: the inner JWS, by the new key, names the account and its old key. */
    async changeKey(auth: Authenticated, url: string, accountUrl: string): Promise<AcmeAccount> {
      const account = requireAccount(auth);
      const inner = jws.parse(auth.payload);
      const { alg, jwk } = inner.header;
      if (typeof alg !== "string" || !ALGORITHMS.has(alg))
        throw acmeError("badSignatureAlgorithm", `Inner JWS algorithm ${String(alg)} is not accepted`);
      if (inner.header.url !== url)
        throw acmeError("malformed", "The inner JWS url must be the keyChange URL");
      if (inner.header.nonce !== undefined)
        throw acmeError("malformed", "The inner JWS must not carry a nonce");
      if (!isRecord(jwk)) throw acmeError("malformed", "The inner JWS must carry the new key as jwk");
      if (!(await jws.verify(inner, jwk)))
        throw acmeError("malformed", "The inner JWS signature does not verify with the new key");
      const payload = objectPayload(jsonPayload(inner));
      if (payload.account !== accountUrl)
        throw acmeError("malformed", "The inner payload's account must be the signing account's URL");
      if (!isRecord(payload.oldKey) || (await jws.thumbprint(payload.oldKey)) !== account.thumbprint)
        throw acmeError("malformed", "The inner payload's oldKey is not the account's current key");
      const thumbprint = await jws.thumbprint(jwk);
      const holder = await store.findAccount(account.profileId, thumbprint);
      if (holder) throw acmeError("conflict", `The new key belongs to account ${holder.id} already`);
      const next = { ...account, jwk, thumbprint };
      await store.updateAccount(next);
      return next;
    },

    /** RFC 8555 §7.4, with ARI's `replaces` (RFC 9773 §5) and the profiles draft's `profile`. */
    async newOrder(auth: Authenticated): Promise<{ order: AcmeOrder; authorizations: AcmeAuthorization[] }> {
      const account = requireAccount(auth);
      const { profile } = auth;
      const payload = objectPayload(auth.payload);
      if (!Array.isArray(payload.identifiers) || payload.identifiers.length === 0)
        throw acmeError("malformed", "identifiers must be a non-empty array");
      if (payload.identifiers.length > MAX_IDENTIFIERS)
        throw acmeError("rejectedIdentifier", `An order may name at most ${MAX_IDENTIFIERS} identifiers`);
      const now = clock.now();
      const validity = orderValidity(payload, profile, now);
      if (payload.profile !== undefined && payload.profile !== profile.name)
        throw acmeError("invalidProfile", `This directory issues profile ${profile.name} only`);
      if (payload.replaces !== undefined && typeof payload.replaces !== "string")
        throw acmeError("malformed", "replaces must be a certID string");
      if (typeof payload.replaces === "string") serialOfCertId(payload.replaces);
      const identifiers: Identifier[] = [];
      for (const raw of payload.identifiers) {
        const identifier = checkIdentifier(raw);
        if (!identifiers.some((i) => i.type === identifier.type && i.value === identifier.value))
          identifiers.push(identifier);
      }
      const since = new Date(now.getTime() - HOUR_MS);
      if ((await store.countAccountOrders(account.id, since)) >= profile.ordersPerAccountPerHour)
        throw acmeError(
          "rateLimited",
          `Account has placed ${profile.ordersPerAccountPerHour} orders in the last hour, this directory's limit`,
        );
      for (const identifier of identifiers)
        if (
          (await store.countIdentifierOrders(profile.id, identifier, since)) >=
          profile.ordersPerIdentifierPerHour
        )
          throw acmeError(
            "rateLimited",
            `${identifier.value} was ordered ${profile.ordersPerIdentifierPerHour} times in the last hour, this directory's limit`,
          );
      await checkGate(
        profile,
        {
          subject: "",
          sans: identifiers.map((i): SubjectAltName => ({ type: i.type, value: i.value })),
          // Unknown until finalize, where the CSR's key is judged.
          keyType: "",
          validityDays: validity.days,
          ekus: profile.ekus,
        },
        "rejectedIdentifier",
      );
      const orderId = newId();
      let expiresAt = new Date(now.getTime() + ORDER_MS);
      const authzIds: string[] = [];
      const authorizations: AcmeAuthorization[] = [];
      for (const identifier of identifiers) {
        const wildcard = identifier.value.startsWith("*.");
        const named: Identifier = wildcard ? { type: "dns", value: identifier.value.slice(2) } : identifier;
        const reused = await reusable(profile, account, named, wildcard, now);
        if (reused) {
          authzIds.push(reused.id);
          // RFC 8555 §7.1.3: an order expires no later than the authorizations it needs.
          if (reused.expiresAt < expiresAt) expiresAt = reused.expiresAt;
          continue;
        }
        const id = newId();
        authzIds.push(id);
        authorizations.push({
          id,
          orderId,
          accountId: account.id,
          identifier: named,
          wildcard,
          status: "pending",
          expiresAt: new Date(now.getTime() + ORDER_MS),
          challenges: challengeTypes(identifier).map((type) => ({
            id: newId(),
            authzId: id,
            type,
            token: randomPart(32).toString("base64url"),
            status: "pending",
          })),
        });
      }
      const order: AcmeOrder = {
        id: orderId,
        profileId: profile.id,
        accountId: account.id,
        status: "pending",
        identifiers,
        authzIds,
        expiresAt,
        notBefore: validity.notBefore,
        notAfter: validity.notAfter,
        replaces: typeof payload.replaces === "string" ? payload.replaces : undefined,
        createdAt: now,
      };
      return { order: await store.insertOrder(order, authorizations), authorizations };
    },

    /** The order; a finalize held for approval moves on once the approvers have decided. */
    async order(auth: Authenticated, id: string): Promise<AcmeOrder> {
      return throughApproval(auth.profile, await ownOrder(requireAccount(auth), id));
    },

    /** RFC 8555 §7.1.2.1: a page of the account's orders, and the cursor of the next page if any. */
    async orders(
      auth: Authenticated,
      accountId: string,
      cursor?: string,
    ): Promise<{ orders: AcmeOrder[]; next?: string | undefined }> {
      const account = requireAccount(auth);
      if (account.id !== accountId)
        throw acmeError("unauthorized", "An account's orders are listed to that account only");
      const after = cursor === undefined ? undefined : readCursor(cursor);
      const page = await store.listAccountOrders(account.id, clock.now(), ORDERS_PAGE_SIZE + 1, after);
      const orders = page.slice(0, ORDERS_PAGE_SIZE);
      const last = orders.at(-1);
      return { orders, next: page.length > ORDERS_PAGE_SIZE && last ? cursorOf(last) : undefined };
    },

    /** RFC 8555 §7.5; `{"status":"deactivated"}` deactivates it (§7.5.2). */
    async authorization(auth: Authenticated, id: string): Promise<AcmeAuthorization> {
      const account = requireAccount(auth);
      const authz = await ownAuthorization(account, id);
      if (auth.payload === undefined) return authz;
      const payload = objectPayload(auth.payload);
      if (payload.status !== "deactivated")
        throw acmeError("malformed", 'An authorization can only be updated to status "deactivated"');
      if (authz.status !== "valid" && authz.status !== "pending")
        throw acmeError("malformed", `Authorization ${id} is ${authz.status}`);
      await store.deactivateAuthorization(id);
      return { ...authz, status: "deactivated" };
    },

    /**
     * RFC 8555 §7.5.1: the client is ready. The answer carries the outcome when validation takes
     * under VALIDATION_WAIT_MS, recorded in one transaction from pending; a slower one is recorded
     * as started (leased to this node) and finishes in the background.
     */
    async respond(
      auth: Authenticated,
      id: string,
    ): Promise<{ challenge: AcmeChallenge; authorization: AcmeAuthorization }> {
      const account = requireAccount(auth);
      const challenge = await store.getChallenge(id);
      if (!challenge) throw acmeError("notFound", `No challenge ${id} here`);
      const authorization = await ownAuthorization(account, challenge.authzId);
      if (auth.payload === undefined || challenge.status !== "pending") return { challenge, authorization };
      if (authorization.status !== "pending")
        throw acmeError("malformed", `Authorization ${authorization.id} is ${authorization.status}`);
      const started = { ...challenge, status: "processing" as const };
      const item = {
        challenge: started,
        identifier: authorization.identifier,
        thumbprint: account.thumbprint,
      };
      let outcome = validating.get(id);
      if (!outcome) {
        outcome = check(item).finally(() => validating.delete(id));
        validating.set(id, outcome);
      }
      const settled = await within(outcome, VALIDATION_WAIT_MS);
      const again = async () => ({ challenge: (await store.getChallenge(id)) ?? challenge, authorization });
      if (settled) {
        const now = clock.now();
        // False when another request on this challenge recorded its outcome first: that one stands.
        if (!(await store.completeChallenge(id, settled, now))) return again();
        const { error } = settled;
        return {
          challenge: error
            ? { ...challenge, status: "invalid", error }
            : { ...challenge, status: "valid", validatedAt: now },
          authorization,
        };
      }
      const now = clock.now();
      // Leased from the start, so that this node records the outcome without a claim of its own.
      if (!(await store.startChallenge(id, new Date(now.getTime() + LEASE_MS)))) return again();
      deps.queued?.(item, outcome);
      return { challenge: started, authorization };
    },

    /**
     * Validates challenges whose lease ran out before their outcome was recorded (the node that
     * started them died), claimed through the database so that each is validated by one node;
     * returns how many were done.
     */
    async validatePending(limit = 16): Promise<number> {
      const now = clock.now();
      const claimed = await store.claimChallenges(now, new Date(now.getTime() + LEASE_MS), limit);
      await Promise.all(claimed.map((item) => service.validate(item)));
      return claimed.length;
    },

    /**
     * Records the outcome of a challenge this node holds the lease of (RFC 8555 §8): `outcome` when
     * its validation is under way already, else a validation made now.
     */
    async validate(item: ClaimedChallenge, outcome = check(item)): Promise<void> {
      await store.completeChallenge(item.challenge.id, await outcome, clock.now());
    },

    /** RFC 8555 §7.4: issues from the profile's CA with the client's CSR, if it asks for the order's names. */
    async finalize(auth: Authenticated, id: string): Promise<AcmeOrder> {
      const account = requireAccount(auth);
      const order = await ownOrder(account, id);
      const { profile } = auth;
      if (order.status !== "ready")
        throw acmeError(
          "orderNotReady",
          order.status === "pending"
            ? `Order ${id} is pending: complete its authorizations before finalizing`
            : `Order ${id} is ${order.status}, not ready to finalize`,
        );
      const payload = objectPayload(auth.payload);
      if (typeof payload.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(payload.csr))
        throw acmeError("malformed", "csr must be the base64url DER of a PKCS#10 request");
      const der = b64u(payload.csr);
      let csr: Awaited<ReturnType<typeof x509.readCsr>>;
      try {
        csr = await x509.readCsr(der);
      } catch (error) {
        throw acmeError("badCSR", `The CSR cannot be read: ${(error as Error).message}`, error);
      }
      const asked = [
        ...csr.sans.dnsNames.map((n) => `dns:${n.toLowerCase()}`),
        ...csr.sans.ipAddresses.map((n) => `ip:${n.toLowerCase()}`),
      ];
      const cn = /(?:^|,\s*)CN=([^,]+)/.exec(csr.subject)?.[1]?.toLowerCase();
      if (cn) asked.push(IPV4.test(cn) ? `ip:${cn}` : `dns:${cn}`);
      const ordered = order.identifiers.map((i) => `${i.type}:${i.value}`);
      if (!sameSet(asked, ordered))
        throw acmeError(
          "badCSR",
          `The CSR names ${[...new Set(asked)].join(", ") || "nothing"}; it must name exactly the order's identifiers ${ordered.join(", ")}`,
        );
      if (csr.sans.emails.length + csr.sans.uris.length + csr.sans.upns.length > 0)
        throw acmeError("badCSR", "The CSR may name only DNS names and IP addresses");
      const key = deps.keyFacts(csr);
      if (!profile.keyTypes.includes(key.keyType))
        throw acmeError(
          "badCSR",
          `Key type ${key.keyType} is not accepted; use ${profile.keyTypes.join(", ")}`,
        );
      if (key.keyType === "RSA" && (key.keySize ?? 0) < profile.minRsaBits)
        throw acmeError("badCSR", `RSA keys must have at least ${profile.minRsaBits} bits`);
      await checkGate(
        profile,
        {
          subject: csr.subject,
          sans: order.identifiers.map((i): SubjectAltName => ({ type: i.type, value: i.value })),
          ...key,
          validityDays: daysOf(order, profile),
          ekus: profile.ekus,
        },
        "badCSR",
      );
      if (order.notAfter && order.notAfter.getTime() <= clock.now().getTime())
        throw acmeError("malformed", `Order ${id} asked for a notAfter that has passed; place a new order`);
      const held = await proposeApproval(profile, account, order, csr.subject, key);
      if (held) {
        if (!(await store.holdOrder(id, der, held)))
          throw acmeError("orderNotReady", `Order ${id} is being finalized already`);
        return { ...order, status: "processing", approvalId: held.request.id };
      }
      return issue(profile, order, csr, "ready");
    },

    /** RFC 8555 §7.4.2: the leaf and its chain up to (not including) the root's parent, DER. */
    async certificate(auth: Authenticated, orderId: string): Promise<Buffer[]> {
      const order = await ownOrder(requireAccount(auth), orderId);
      if (order.status !== "valid" || !order.certificateSerial)
        throw acmeError("notFound", `Order ${orderId} has no certificate`);
      return certificateChain(auth.profile.caId, order.certificateSerial);
    },

    /** RFC 8555 §7.6: by the account that ordered it, or signed by the certificate's own key. */
    async revoke(auth: Authenticated): Promise<void> {
      const payload = objectPayload(auth.payload);
      if (typeof payload.certificate !== "string")
        throw acmeError("malformed", "certificate must be the base64url DER of the certificate");
      let facts: ReturnType<typeof x509.readCertificate>;
      try {
        facts = x509.readCertificate(b64u(payload.certificate));
      } catch (error) {
        throw acmeError("malformed", "certificate is not a DER X.509 certificate", error);
      }
      const code = payload.reason ?? 0;
      const reason = Object.entries(REVOCATION_REASONS).find(([, v]) => v === code)?.[0] as
        | RevocationReason
        | undefined;
      if (!reason || reason === "certificateHold")
        throw acmeError("badRevocationReason", `Revocation reason ${String(code)} is not accepted`);
      const issued = await ca.findIssued(facts.serial, auth.profile.caId).catch(() => {
        throw acmeError("notFound", `Certificate ${facts.serial} was not issued by this directory's CA`);
      });
      if (!issued.der.equals(b64u(payload.certificate)))
        throw acmeError("notFound", `Certificate ${facts.serial} was not issued by this directory's CA`);
      if (auth.account) {
        const order = await store.findOrderBySerial(issued.serial);
        if (!order || order.accountId !== auth.account.id)
          throw acmeError(
            "unauthorized",
            "Only the account that ordered a certificate, or its key, may revoke it",
          );
      } else if (!auth.jwk || !jws.spki(auth.jwk).equals(facts.publicKey))
        throw acmeError("unauthorized", "The JWS key is not the certificate's key");
      if (issued.status === "revoked")
        throw acmeError("alreadyRevoked", `Certificate ${issued.serial} is revoked already`);
      await ca.revoke(issued, reason);
    },

    /** RFC 9773 §4.2: the window from the profile's percentages of the certificate's lifetime. */
    async renewalInfo(profileName: string, certId: string): Promise<{ start: Date; end: Date }> {
      const profile = await profileNamed(profileName);
      const serial = serialOfCertId(certId);
      const order = await store.findOrderBySerial(serial);
      if (!order || order.profileId !== profile.id)
        throw acmeError("notFound", `No certificate ${certId} was issued by this directory`);
      const issued = await ca.findIssued(serial, profile.caId);
      const from = issued.notBefore.getTime();
      const life = issued.notAfter.getTime() - from;
      if (issued.status === "revoked") {
        const now = clock.now().getTime();
        return { start: new Date(now - HOUR_MS), end: new Date(now) };
      }
      return {
        start: new Date(from + (life * profile.renewalWindowStartPercent) / 100),
        end: new Date(from + (life * profile.renewalWindowEndPercent) / 100),
      };
    },
  };
  return service;
}
