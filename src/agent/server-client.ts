import { createHash, createPrivateKey, type KeyObject, randomUUID, X509Certificate } from "node:crypto";
import { request } from "node:https";
import { SignJWT } from "jose";

/** How the agent reaches and signs in to its server: what `strongroom discovery agent create` writes. */
export interface AgentCredentials {
  name: string;
  /** `https://host:port` of the server's API. */
  serverUrl: string;
  tenantId: string;
  clientId: string;
  /** Absent when the agent signs in with a client certificate instead. */
  clientSecret?: string | undefined;
  /** Where tokens come from; the server itself unless configured otherwise. */
  authorityHost: string;
  /** The token scope: `https://{dnsSuffix}/.default`, the audience the server's tokens carry. */
  scope: string;
  /** PEM of the CA that signed the server's certificate, when it is not a public one. */
  ca?: string | undefined;
}

export class ServerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ServerError";
  }
}

/**
 * A client certificate registered on the agent's principal, and its private key: the agent signs in
 * with a client assertion (RFC 7523) instead of a secret, as Entra ID's ClientCertificateCredential does.
 */
export interface ClientCertificate {
  /** PEM of the certificate. */
  certificate: string;
  /** PEM of its private key (RSA or EC), unencrypted. */
  key: string;
}

/** The JWS algorithm a key signs assertions with; the server accepts RSA and ECDSA. */
function assertionAlgorithm(key: KeyObject): string {
  if (key.asymmetricKeyType === "rsa") return "RS256";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const byCurve: Record<string, string> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };
  const alg = key.asymmetricKeyType === "ec" && curve ? byCurve[curve] : undefined;
  if (!alg) throw new Error(`a ${key.asymmetricKeyType} ${curve ?? ""} key cannot sign client assertions`);
  return alg;
}

/**
 * Checks the pair once, so a wrong key fails at start with a clear message rather than as a refused
 * token later, and returns what each assertion needs.
 */
export function certificateSigner(pair: ClientCertificate) {
  const certificate = new X509Certificate(pair.certificate);
  const key = createPrivateKey(pair.key);
  if (!certificate.checkPrivateKey(key))
    throw new Error("the private key does not belong to the certificate");
  const thumbprint = createHash("sha256").update(certificate.raw).digest("base64url");
  const alg = assertionAlgorithm(key);
  return (clientId: string, audience: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg, "x5t#S256": thumbprint })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt()
      .setNotBefore("0s")
      .setExpirationTime("10m")
      .sign(key);
}

/** Requests are abandoned after this long, so a hung server cannot stall the agent's jobs. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * JSON over HTTPS to the server, with a client-credentials token renewed before it runs out, got
 * with the client secret or, when one is given, a client certificate's assertion.
 */
export function createServerClient(credentials: AgentCredentials, clientCertificate?: ClientCertificate) {
  let token: { value: string; until: number } | undefined;
  const sign = clientCertificate && certificateSigner(clientCertificate);
  if (!sign && !credentials.clientSecret) {
    throw new Error("the agent needs a client secret or a client certificate to sign in");
  }

  function send(
    method: string,
    url: URL,
    body: string | undefined,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ) {
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers: {
            ...headers,
            ...(body !== undefined && { "content-length": String(Buffer.byteLength(body)) }),
          },
          ...(credentials.ca && { ca: credentials.ca }),
          timeout: REQUEST_TIMEOUT_MS,
          ...(signal && { signal }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`${method} ${url.pathname} took longer than ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  async function bearer(): Promise<string> {
    if (token && token.until > Date.now()) return token.value;
    const url = new URL(`/${credentials.tenantId}/oauth2/v2.0/token`, credentials.authorityHost);
    const proof: Record<string, string> = sign
      ? {
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: await sign(credentials.clientId, url.toString()),
        }
      : { client_secret: credentials.clientSecret as string };
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: credentials.clientId,
      ...proof,
      scope: credentials.scope,
    }).toString();
    const res = await send("POST", url, form, { "content-type": "application/x-www-form-urlencoded" });
    if (res.status !== 200)
      throw new ServerError(res.status, `token request refused: ${res.text.slice(0, 300)}`);
    const answer = JSON.parse(res.text) as { access_token: string; expires_in: number };
    // Renewed at half its life: a clock a little off from the server's never presents a stale one.
    token = { value: answer.access_token, until: Date.now() + (answer.expires_in * 1000) / 2 };
    return token.value;
  }

  return {
    /** Calls the agent API; undefined for 204. `signal` abandons the call (a watch held open). */
    async call<T>(
      method: "GET" | "POST",
      path: string,
      body?: unknown,
      signal?: AbortSignal,
    ): Promise<T | undefined> {
      const res = await send(
        method,
        new URL(path, credentials.serverUrl),
        body === undefined ? undefined : JSON.stringify(body),
        {
          authorization: `Bearer ${await bearer()}`,
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        signal,
      );
      if (res.status === 204) return undefined;
      if (res.status >= 400) {
        let message = res.text.slice(0, 500);
        try {
          message = (JSON.parse(res.text) as { error: { message: string } }).error.message;
        } catch {
          // Not Key Vault's error body; the raw text says what it can.
        }
        throw new ServerError(res.status, `${method} ${path}: ${res.status} ${message}`);
      }
      return JSON.parse(res.text) as T;
    },
  };
}

export type ServerClient = ReturnType<typeof createServerClient>;
