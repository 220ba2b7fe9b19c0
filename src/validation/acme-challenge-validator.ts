import { createHash, X509Certificate } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { request } from "node:http";
import { isIP } from "node:net";
import { connect } from "node:tls";
import type { AcmeProblem } from "../domain/acme-server/model.js";
import type { ChallengeValidator, ValidationSettings } from "../domain/acme-server/ports.js";

const TIMEOUT_MS = 10_000;
/** A key authorization is 43 + 1 + 43 characters; anything much longer is not one. */
const MAX_BODY_BYTES = 4096;
/** RFC 8737 §3: id-pe-acmeIdentifier, whose value is the SHA-256 of the key authorization. */
const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

const fail = (type: string, detail: string): AcmeProblem => ({ type, detail, status: 400 });

/** RFC 8738 §6: the reverse-mapping name a tls-alpn-01 client for an IP identifier sends as SNI. */
function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  const groups = ip.split("::");
  const head = (groups[0] ?? "").split(":").filter(Boolean);
  const tail = (groups[1] ?? "").split(":").filter(Boolean);
  const full = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  return `${full
    .map((g) => g.padStart(4, "0"))
    .join("")
    .split("")
    .reverse()
    .join(".")}.ip6.arpa`;
}

/** The DER inside the acmeIdentifier extension, found in the certificate's raw bytes. */
function acmeIdentifierValue(der: Buffer): Buffer | undefined {
  // OID 1.3.6.1.5.5.7.1.31, then BOOLEAN TRUE (critical), then OCTET STRING { OCTET STRING (32) }.
  const oid = Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]);
  const at = der.indexOf(oid);
  if (at < 0) return undefined;
  let i = at + oid.length;
  if (der[i] !== 0x01 || der[i + 1] !== 0x01 || der[i + 2] === 0x00) return Buffer.alloc(0);
  i += 3;
  if (der[i] !== 0x04 || der[i + 1] !== 0x22 || der[i + 2] !== 0x04 || der[i + 3] !== 0x20)
    return Buffer.alloc(0);
  return der.subarray(i + 4, i + 36);
}

/** Validates http-01, dns-01 and tls-alpn-01 against the client, as the settings direct. */
export function createAcmeChallengeValidator(settings: ValidationSettings): ChallengeValidator {
  const resolver = new Resolver({ timeout: TIMEOUT_MS, tries: 2 });
  if (settings.resolver) resolver.setServers([settings.resolver]);

  async function addressOf(host: string): Promise<string> {
    if (isIP(host)) return host;
    const v4 = await resolver.resolve4(host).catch(() => [] as string[]);
    const v6 = v4.length ? [] : await resolver.resolve6(host).catch(() => [] as string[]);
    const address = v4[0] ?? v6[0];
    if (!address) throw Object.assign(new Error(`No A or AAAA record for ${host}`), { acme: "dns" });
    return address;
  }

  function httpGet(address: string, host: string, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: address, port: settings.httpPort, path, headers: { host }, timeout: TIMEOUT_MS },
        (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            body += chunk;
            if (body.length > MAX_BODY_BYTES) req.destroy(new Error("the response is too long"));
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", reject);
      req.end();
    });
  }

  /** RFC 8555 §8.3. */
  async function http01(host: string, token: string, keyAuthorization: string) {
    const address = await addressOf(host);
    const url = `http://${host}:${settings.httpPort}/.well-known/acme-challenge/${token}`;
    const response = await httpGet(address, host, `/.well-known/acme-challenge/${token}`).catch(
      (error: Error) => {
        throw Object.assign(new Error(`Fetching ${url}: ${error.message}`), { acme: "connection" });
      },
    );
    if (response.status !== 200)
      return fail(
        "unauthorized",
        `Fetching ${url} answered ${response.status}, not 200 with the key authorization`,
      );
    if (response.body.trim() !== keyAuthorization)
      return fail("unauthorized", `${url} answered with something other than the key authorization`);
    return undefined;
  }

  /** RFC 8555 §8.4. */
  async function dns01(host: string, keyAuthorization: string) {
    const name = `_acme-challenge.${host}`;
    const digest = createHash("sha256").update(keyAuthorization).digest("base64url");
    const records = await resolver.resolveTxt(name).catch((error: NodeJS.ErrnoException) => {
      throw Object.assign(new Error(`No TXT record at ${name} (${error.code ?? error.message})`), {
        acme: "dns",
      });
    });
    if (!records.some((chunks) => chunks.join("") === digest))
      return fail("unauthorized", `No TXT record at ${name} holds this challenge's digest`);
    return undefined;
  }

  /** RFC 8737 §3; RFC 8738 §6 for IP identifiers. */
  async function tlsAlpn01(identifier: { type: string; value: string }, keyAuthorization: string) {
    const address = await addressOf(identifier.value);
    const servername = identifier.type === "ip" ? reverseName(identifier.value) : identifier.value;
    const der = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect({
        host: address,
        port: settings.tlsPort,
        servername,
        ALPNProtocols: ["acme-tls/1"],
        // The certificate is self-signed by design; what proves control is its extension.
        rejectUnauthorized: false,
        timeout: TIMEOUT_MS,
      });
      socket.once("secureConnect", () => {
        const alpn = socket.alpnProtocol;
        const peer = socket.getPeerCertificate();
        socket.end();
        if (alpn !== "acme-tls/1")
          reject(new Error(`the server did not negotiate acme-tls/1 (got ${alpn || "none"})`));
        else resolve(peer.raw);
      });
      socket.once("timeout", () => socket.destroy(new Error("timed out")));
      socket.once("error", reject);
    }).catch((error: Error) => {
      throw Object.assign(new Error(`TLS to ${address}:${settings.tlsPort}: ${error.message}`), {
        acme: "connection",
      });
    });
    const certificate = new X509Certificate(der);
    const names = (certificate.subjectAltName ?? "").split(", ");
    const expected = identifier.type === "ip" ? `IP Address:${identifier.value}` : `DNS:${identifier.value}`;
    if (names.length !== 1 || names[0]?.toLowerCase() !== expected.toLowerCase())
      return fail("unauthorized", `The acme-tls/1 certificate must name exactly ${identifier.value}`);
    const value = acmeIdentifierValue(der);
    if (!value) return fail("unauthorized", "The acme-tls/1 certificate has no acmeIdentifier extension");
    if (!value.equals(createHash("sha256").update(keyAuthorization).digest()))
      return fail(
        "unauthorized",
        `The acmeIdentifier extension (${ACME_IDENTIFIER_OID}) is not critical or does not hold this challenge's digest`,
      );
    return undefined;
  }

  return {
    async validate({ challenge, identifier }, keyAuthorization) {
      try {
        if (challenge.type === "http-01")
          return await http01(identifier.value, challenge.token, keyAuthorization);
        if (challenge.type === "dns-01") return await dns01(identifier.value, keyAuthorization);
        return await tlsAlpn01(identifier, keyAuthorization);
      } catch (error) {
        const type = (error as { acme?: string }).acme;
        if (type) return fail(type, (error as Error).message);
        throw error;
      }
    },
  };
}
