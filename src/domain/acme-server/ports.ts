import type { ApprovalChange } from "../approvals/ports.js";
import type {
  AcmeAccount,
  AcmeAuthorization,
  AcmeChallenge,
  AcmeOrder,
  AcmeProblem,
  AcmeProfile,
  ClaimedChallenge,
  EabKey,
  Identifier,
  ValidationOutcome,
} from "./model.js";

/** The ACME server's state; every row lives in the database so any node answers any request. */
export interface AcmeServerStore {
  /** Conflict when the name is taken. */
  insertProfile(profile: AcmeProfile): Promise<void>;
  updateProfile(profile: AcmeProfile): Promise<void>;
  /** By name, case-insensitive. */
  getProfile(name: string): Promise<AcmeProfile | undefined>;
  listProfiles(): Promise<AcmeProfile[]>;
  /** Deletes the profile with its keys, accounts, orders and nonces; false when there was none. */
  deleteProfile(id: string): Promise<boolean>;

  insertEabKey(key: EabKey): Promise<void>;
  getEabKey(keyId: string): Promise<EabKey | undefined>;
  listEabKeys(profileId: string): Promise<EabKey[]>;

  /**
   * Records a nonce as used until `expiresAt`: true the first time, false when it was used before
   * (on any node), which is what makes a replayed request fail.
   */
  useNonce(nonce: string, expiresAt: Date): Promise<boolean>;
  /** Forgets used nonces past their expiry: they fail the age check by then. */
  purgeNonces(now: Date): Promise<number>;

  /**
   * Inserts an account, binding `eabKeyId` to it in the same transaction; Conflict when the key's
   * thumbprint has an account already or the EAB key is bound to another account.
   */
  insertAccount(account: AcmeAccount): Promise<void>;
  getAccount(id: string): Promise<AcmeAccount | undefined>;
  findAccount(profileId: string, thumbprint: string): Promise<AcmeAccount | undefined>;
  /** Contacts, status and key; Conflict when a new key's thumbprint is another account's. */
  updateAccount(account: AcmeAccount): Promise<void>;

  /**
   * An order with its new authorizations, in one transaction; `order.authzIds` may also name
   * authorizations of earlier orders it reuses. The order is stored ready when every authorization
   * it names is valid at that moment, invalid when one is no longer valid or pending; the order as
   * stored is returned.
   */
  insertOrder(order: AcmeOrder, authorizations: AcmeAuthorization[]): Promise<AcmeOrder>;
  getOrder(id: string): Promise<AcmeOrder | undefined>;
  /**
   * The account's authorization for an identifier that a new order may reuse: in one of `statuses`,
   * made (pending) or validated (valid) at or after `since`, expiring after `expiresAfter`; the
   * newest such, or undefined.
   */
  findReusableAuthorization(query: {
    accountId: string;
    identifier: Identifier;
    wildcard: boolean;
    statuses: ("valid" | "pending")[];
    since: Date;
    expiresAfter: Date;
  }): Promise<AcmeAuthorization | undefined>;
  /**
   * RFC 8555 §7.1.2.1: the account's orders, oldest first, after the cursor; pending orders past
   * their expiry and invalid orders are left out.
   */
  listAccountOrders(
    accountId: string,
    now: Date,
    limit: number,
    after?: { createdAt: Date; id: string },
  ): Promise<AcmeOrder[]>;
  getAuthorization(id: string): Promise<AcmeAuthorization | undefined>;
  getChallenge(id: string): Promise<AcmeChallenge | undefined>;
  /**
   * pending → processing, leased until `leaseUntil` to the node that started it, which validates it
   * at once; false when the challenge was not pending.
   */
  startChallenge(id: string, leaseUntil: Date): Promise<boolean>;
  /**
   * Claims processing challenges nobody holds (or whose holder's lease ran out), leasing them
   * until `leaseUntil`, so each is validated by one node.
   */
  claimChallenges(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedChallenge[]>;
  /**
   * Records a validation's outcome on a pending or processing challenge and carries it through:
   * the authorization becomes valid or invalid, and its order ready (all authorizations valid) or
   * invalid, in one transaction. False when the challenge had an outcome already.
   */
  completeChallenge(id: string, outcome: ValidationOutcome, now: Date): Promise<boolean>;
  deactivateAuthorization(id: string): Promise<void>;
  /**
   * ready → processing, keeping the CSR and storing the approval request that holds it in the same
   * transaction; false (and nothing stored) when the order was not ready.
   */
  holdOrder(orderId: string, csr: Buffer, approval: ApprovalChange): Promise<boolean>;
  /**
   * Takes a processing order to sign it until `leaseUntil`: true for one caller, and again for
   * another once the lease has run out (its holder died before storing the certificate).
   */
  takeOrder(orderId: string, now: Date, leaseUntil: Date): Promise<boolean>;
  /** ready or processing → invalid with the error; the certificate itself completes an order (CaStore). */
  failOrder(orderId: string, error: AcmeProblem): Promise<void>;
  /** The order that issued this certificate. */
  findOrderBySerial(serial: string): Promise<AcmeOrder | undefined>;
  /** Orders an account placed since `since`. */
  countAccountOrders(accountId: string, since: Date): Promise<number>;
  /** Orders of the profile naming this identifier since `since`. */
  countIdentifierOrders(profileId: string, identifier: Identifier, since: Date): Promise<number>;
}

/** A flattened JWS (RFC 7515 §7.2.2) as ACME clients send it, read but not yet verified. */
export interface ParsedJws {
  header: Record<string, unknown>;
  /** The decoded payload; empty for POST-as-GET. */
  payload: Buffer;
  raw: { protected: string; payload: string; signature: string };
}

/** JWS for ACME requests (RFC 8555 §6.2): ES256/384/512, RS256, EdDSA and, for EAB, HS256. */
export interface AcmeJws {
  /** BadParameter (malformed) when the body is not a flattened JWS with a JSON protected header. */
  parse(body: unknown): ParsedJws;
  /** Whether the signature verifies with `jwk` under the header's `alg`. */
  verify(jws: ParsedJws, jwk: Record<string, unknown>): Promise<boolean>;
  /** Whether an EAB JWS's MAC verifies with the HMAC key. */
  verifyMac(jws: ParsedJws, hmacKey: Buffer): Promise<boolean>;
  /** RFC 7638 thumbprint, base64url; BadParameter when the JWK is not a public key. */
  thumbprint(jwk: Record<string, unknown>): Promise<string>;
  /** The SPKI DER of a public JWK, to compare with a certificate's key. */
  spki(jwk: Record<string, unknown>): Buffer;
}

/** Settings of the challenge validator (issue 21 part 2). */
export interface ValidationSettings {
  /** The port http-01 fetches from (80 in real deployments). */
  httpPort: number;
  /** The port tls-alpn-01 connects to (443). */
  tlsPort: number;
  /** `host:port` of the DNS server for A/AAAA and TXT lookups; the system resolver when absent. */
  resolver?: string | undefined;
}

/** Checks a challenge against the client (RFC 8555 §8.3, §8.4, RFC 8737). */
export interface ChallengeValidator {
  /** Undefined when the challenge is met, else the problem (connection, dns, incorrectResponse, …). */
  validate(challenge: ClaimedChallenge, keyAuthorization: string): Promise<AcmeProblem | undefined>;
}

/** What a CSR's key is, in the terms rules judge. */
export interface KeyFacts {
  keyType: string;
  keySize?: number | undefined;
  curve?: string | undefined;
}
