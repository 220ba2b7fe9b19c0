import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { Agent, request } from "node:https";
import { calculateJwkThumbprint, exportJWK, FlattenedSign, type JWK } from "jose";

/**
 * A minimal RFC 8555 client over jose, for tests that must send what real clients would not
 * (replayed nonces, another key's signature) and for bench/acme, which drives Strongroom and pebble
 * with the same code. It sends exactly what it is told to.
 */
export interface AcmeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: ACME bodies of many shapes
  json(): any;
}

export interface AccountKey {
  privateKey: KeyObject;
  jwk: JWK;
  alg: string;
  thumbprint: string;
}

export async function accountKey(kind: "ES256" | "ES384" | "RS256" | "EdDSA" = "ES256"): Promise<AccountKey> {
  const { privateKey, publicKey } =
    kind === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : kind === "EdDSA"
        ? generateKeyPairSync("ed25519")
        : generateKeyPairSync("ec", { namedCurve: kind === "ES256" ? "P-256" : "P-384" });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, alg: kind, thumbprint: await calculateJwkThumbprint(jwk, "sha256") };
}

export interface AcmeClientOptions {
  directoryUrl: string;
  /** PEM CA to trust for the server's TLS. */
  ca?: string | undefined;
  /** Parallel requests kept alive per client. */
  agent?: Agent | undefined;
  /**
   * Sends every request to this port on the URL's address, with the URL's Host: another node of a
   * cluster answering the same name, as a load balancer would route it.
   */
  port?: number | undefined;
}

export function createAcmeClient(options: AcmeClientOptions) {
  const agent = options.agent ?? new Agent({ ca: options.ca, keepAlive: true, maxSockets: 16 });
  let directory: Record<string, string> | undefined;
  const nonces: string[] = [];

  function send(method: string, url: string, body?: string): Promise<AcmeResponse> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent,
          ...(options.port && { port: options.port }),
          headers: {
            host: new URL(url).host,
            ...(body !== undefined && { "content-type": "application/jose+json" }),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => {
            const nonce = res.headers["replay-nonce"];
            if (typeof nonce === "string") nonces.push(nonce);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text,
              json: () => JSON.parse(text),
            });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  const client = {
    async directory(): Promise<Record<string, string>> {
      directory ??= (await send("GET", options.directoryUrl)).json();
      return directory as Record<string, string>;
    },

    async nonce(): Promise<string> {
      const kept = nonces.pop();
      if (kept) return kept;
      const response = await send("HEAD", (await client.directory()).newNonce as string);
      nonces.pop();
      return response.headers["replay-nonce"] as string;
    },

    /** A flattened JWS as the protected header says; `payload` undefined is POST-as-GET. */
    async sign(
      key: AccountKey,
      header: Record<string, unknown>,
      payload: unknown,
    ): Promise<{ protected: string; payload: string; signature: string }> {
      const bytes = payload === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(payload));
      const jws = await new FlattenedSign(bytes)
        .setProtectedHeader({ alg: key.alg, ...header })
        .sign(key.privateKey);
      return { protected: jws.protected as string, payload: jws.payload, signature: jws.signature };
    },

    /** POST a JWS: by `kid` when given, else with the embedded jwk. */
    async post(
      url: string,
      key: AccountKey,
      payload: unknown,
      extra: { kid?: string | undefined; nonce?: string | undefined } = {},
    ): Promise<AcmeResponse & { nonce: string }> {
      // RFC 8555 §6.5: a client retries a badNonce with the fresh nonce it came with (pebble refuses
      // a share of good nonces on purpose); a nonce the caller chose is sent once, as told.
      for (let attempt = 0; ; attempt++) {
        const nonce = extra.nonce ?? (await client.nonce());
        const header = { nonce, url, ...(extra.kid ? { kid: extra.kid } : { jwk: key.jwk }) };
        const response = await send("POST", url, JSON.stringify(await client.sign(key, header, payload)));
        if (extra.nonce || attempt >= 3 || response.status !== 400 || !response.body.includes(":badNonce"))
          return { ...response, nonce };
      }
    },

    /** RFC 8555 §7.3.4: the account key MACed under an EAB key, for newAccount's externalAccountBinding. */
    async externalAccountBinding(key: AccountKey, keyId: string, hmacKey: string) {
      const url = (await client.directory()).newAccount as string;
      const jws = await new FlattenedSign(Buffer.from(JSON.stringify(key.jwk)))
        .setProtectedHeader({ alg: "HS256", kid: keyId, url })
        .sign(Buffer.from(hmacKey, "base64url"));
      return { protected: jws.protected as string, payload: jws.payload, signature: jws.signature };
    },

    /** A raw body to `url`, for malformed requests. */
    postRaw: (url: string, body: string) => send("POST", url, body),
    get: (url: string) => send("GET", url),

    keyAuthorization: (token: string, key: AccountKey) => `${token}.${key.thumbprint}`,
    dnsDigest: (keyAuthorization: string) =>
      createHash("sha256").update(keyAuthorization).digest("base64url"),
    close: () => agent.destroy(),
  };
  return client;
}

export type AcmeClient = ReturnType<typeof createAcmeClient>;

/** A CSR for `names` (DNS, or IP when it looks like one) with a fresh P-256 key, as base64url DER. */
export async function csrFor(names: string[]): Promise<string> {
  const x509 = await import("@peculiar/x509");
  const { webcrypto } = await import("node:crypto");
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names[0]}`,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: /^[\d.]+$|:/.test(n) ? ("ip" as const) : ("dns" as const), value: n })),
      ),
    ],
  });
  return Buffer.from(csr.rawData).toString("base64url");
}
