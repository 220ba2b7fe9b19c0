import { createPublicKey, type KeyObject } from "node:crypto";
import { base64url, calculateJwkThumbprint, exportJWK, FlattenedSign, type JWK } from "jose";
import type { HttpFetch, HttpResponse } from "./acme-http.js";

/** RFC 7807 problem document, as ACME servers send them (RFC 8555 §6.7). */
export interface Problem {
  type: string;
  detail?: string;
  status?: number;
  identifier?: { type: string; value: string };
  subproblems?: Problem[];
}

/** An error document from the ACME server. */
export class AcmeProblem extends Error {
  override name = "AcmeProblem";
  constructor(readonly problem: Problem) {
    const subproblems = (problem.subproblems ?? [])
      .map((p) => `${p.identifier?.value ?? "?"}: ${p.detail ?? p.type}`)
      .join("; ");
    super(`${problem.detail ?? problem.type}${subproblems ? ` (${subproblems})` : ""}`);
  }

  /** `urn:ietf:params:acme:error:rejectedIdentifier` becomes `AcmeRejectedIdentifier`. */
  get code(): string {
    const last = this.problem.type.split(":").at(-1) ?? "error";
    return `Acme${last.charAt(0).toUpperCase()}${last.slice(1)}`;
  }
}

// RFC 8555 §7.1.1; renewalInfo from RFC 9773 §3.
export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  renewalInfo?: string;
  meta?: { externalAccountRequired?: boolean; termsOfService?: string };
}

export type Identifier = { type: "dns" | "ip"; value: string };

// RFC 8555 §7.1.3
export interface OrderResource {
  status: "pending" | "ready" | "processing" | "valid" | "invalid";
  expires?: string;
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: Problem;
}

// RFC 8555 §7.1.4
export interface AuthorizationResource {
  status: "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
  identifier: Identifier;
  challenges: ChallengeResource[];
  wildcard?: boolean;
}

export interface ChallengeResource {
  type: string;
  url: string;
  token: string;
  status: "pending" | "processing" | "valid" | "invalid";
  error?: Problem;
}

export interface ExternalAccountBinding {
  keyId: string;
  /** The HMAC key as the CA hands it out: base64url. */
  hmacKey: string;
}

/** Servers may refuse any nonce (pebble refuses 5 % on purpose); each refusal brings a fresh one. */
const BAD_NONCE_ATTEMPTS = 4;

export type AcmeProtocol = Awaited<ReturnType<typeof connectAcme>>;

const isProblem = (r: HttpResponse) =>
  r.status >= 400 && String(r.headers["content-type"] ?? "").startsWith("application/problem+json");

/**
 * An RFC 8555 client for one account key at one directory: every request is a JWS signed with the
 * account key (ES256), carrying a fresh nonce; a `badNonce` answer is retried with the nonce it brought (§6.5).
 */
export async function connectAcme(http: HttpFetch, directoryUrl: string, accountKey: KeyObject) {
  const directory = await readJson<AcmeDirectory>(await http(directoryUrl), directoryUrl);
  const jwk: JWK = await exportJWK(createPublicKey(accountKey));
  const thumbprint = await calculateJwkThumbprint(jwk, "sha256");
  const nonces: string[] = [];
  let accountUrl: string | undefined;

  function keepNonce(r: HttpResponse) {
    const nonce = r.headers["replay-nonce"];
    if (typeof nonce === "string") nonces.push(nonce);
  }

  async function nonce(): Promise<string> {
    const kept = nonces.pop();
    if (kept) return kept;
    const r = await http(directory.newNonce, { method: "HEAD" });
    const fresh = r.headers["replay-nonce"];
    if (typeof fresh !== "string") throw new Error(`${directory.newNonce} gave no Replay-Nonce`);
    return fresh;
  }

  /** §6.2: a JWS POST; `payload` undefined is POST-as-GET (§6.3). */
  async function post(
    url: string,
    payload: unknown,
    options: { jwk?: boolean; accept?: string } = {},
    attempt = 1,
  ): Promise<HttpResponse> {
    const header = {
      alg: "ES256",
      nonce: await nonce(),
      url,
      ...(options.jwk ? { jwk } : { kid: accountUrl as string }),
    };
    const bytes =
      payload === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    const jws = await new FlattenedSign(bytes).setProtectedHeader(header).sign(accountKey);
    const r = await http(url, {
      method: "POST",
      headers: {
        "content-type": "application/jose+json",
        ...(options.accept && { accept: options.accept }),
      },
      body: JSON.stringify(jws),
    });
    keepNonce(r);
    if (isProblem(r)) {
      const problem = JSON.parse(r.body.toString("utf8")) as Problem;
      if (problem.type === "urn:ietf:params:acme:error:badNonce" && attempt < BAD_NONCE_ATTEMPTS)
        return post(url, payload, options, attempt + 1);
      throw new AcmeProblem(problem);
    }
    if (r.status >= 400)
      throw new Error(`${url} answered ${r.status}: ${r.body.toString("utf8").slice(0, 200)}`);
    return r;
  }

  const postJson = async <T>(url: string, payload: unknown) => readJson<T>(await post(url, payload), url);

  return {
    directory,
    /** RFC 8555 §8.1: `token.thumbprint`. */
    keyAuthorization: (token: string) => `${token}.${thumbprint}`,

    /** Uses an account registered earlier. */
    useAccount(url: string) {
      accountUrl = url;
    },

    /** §7.3: registers (or finds) the account; with EAB (§7.3.4) when the CA gave a key id and HMAC key. */
    async register(contacts: string[], eab?: ExternalAccountBinding): Promise<string> {
      const binding =
        eab &&
        (await new FlattenedSign(new TextEncoder().encode(JSON.stringify(jwk)))
          .setProtectedHeader({ alg: "HS256", kid: eab.keyId, url: directory.newAccount })
          .sign(base64url.decode(eab.hmacKey)));
      const r = await post(
        directory.newAccount,
        {
          termsOfServiceAgreed: true,
          ...(contacts.length > 0 && { contact: contacts }),
          ...(binding && { externalAccountBinding: binding }),
        },
        { jwk: true },
      );
      const location = r.headers.location;
      if (!location) throw new Error(`${directory.newAccount} gave no account URL`);
      accountUrl = location;
      return location;
    },

    /** §7.4 */
    async newOrder(identifiers: Identifier[]): Promise<{ url: string; order: OrderResource }> {
      const r = await post(directory.newOrder, { identifiers });
      const url = r.headers.location;
      if (!url) throw new Error(`${directory.newOrder} gave no order URL`);
      return { url, order: await readJson<OrderResource>(r, directory.newOrder) };
    },

    order: (url: string) => postJson<OrderResource>(url, undefined),
    authorization: (url: string) => postJson<AuthorizationResource>(url, undefined),

    /** §7.5.1: tells the server the challenge is ready to be validated. */
    respond: (challengeUrl: string) => postJson<ChallengeResource>(challengeUrl, {}),

    /** §7.4: finalizes with the CSR exactly as the vault's key signed it. */
    finalize: (finalizeUrl: string, csr: Buffer) =>
      postJson<OrderResource>(finalizeUrl, { csr: base64url.encode(csr) }),

    /** §7.4.2: the certificate with its chain, PEM. */
    async certificateChain(url: string): Promise<string> {
      return (await post(url, undefined, { accept: "application/pem-certificate-chain" })).body.toString(
        "utf8",
      );
    },
  };
}

async function readJson<T>(r: HttpResponse, url: string): Promise<T> {
  if (isProblem(r)) throw new AcmeProblem(JSON.parse(r.body.toString("utf8")) as Problem);
  if (r.status >= 400) throw new Error(`${url} answered ${r.status}`);
  try {
    return JSON.parse(r.body.toString("utf8")) as T;
  } catch {
    throw new Error(`${url} did not answer with JSON`);
  }
}
