import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as Crypto);

export interface TestCertificate {
  der: Buffer;
  pem: string;
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
  keys: CryptoKeyPair;
  name: string;
  /** SHA-256 of the DER, lower-case hex: what discovery and the inventory key certificates by. */
  sha256: string;
}

const DAY = 86_400_000;

async function rsa(bits: number, hash: "SHA-256" | "SHA-1"): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash },
    true,
    ["sign", "verify"],
  ) as Promise<CryptoKeyPair>;
}

/**
 * A certificate for tests: issued by `issuer` (self-signed when absent), RSA of `bits` whose
 * signature hash is the issuer's key's (`hash`), valid from `notBefore` to `notAfter`.
 */
export async function makeCertificate(options: {
  name: string;
  issuer?: TestCertificate;
  ca?: boolean;
  dnsNames?: string[];
  bits?: number;
  hash?: "SHA-256" | "SHA-1";
  notBefore?: Date;
  notAfter?: Date;
  /** Bytes of an unknown non-critical extension, to make a certificate as large as a test needs. */
  padding?: number;
}): Promise<TestCertificate> {
  const hash = options.hash ?? "SHA-256";
  const keys = await rsa(options.bits ?? 2048, options.issuer ? "SHA-256" : hash);
  const signingKey = options.issuer?.keys.privateKey ?? keys.privateKey;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true),
  ];
  if (options.dnsNames?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        options.dnsNames.map((value) => ({ type: "dns" as const, value })),
      ),
    );
  }
  if (options.padding) {
    // An OCTET STRING of zeros under a private OID: ignored by every reader, but counted in the size.
    const body = Buffer.alloc(options.padding);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    extensions.push(
      new x509.Extension(
        "1.3.6.1.4.1.55555.1",
        false,
        Buffer.concat([Buffer.from([0x04, 0x84]), length, body]),
      ),
    );
  }
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: createHash("sha1")
      .update(`${options.name}${Math.random()}`)
      .digest("hex")
      .slice(0, 16)
      .replace(/^[89a-f]/, "1"),
    subject: `CN=${options.name}`,
    issuer: options.issuer ? options.issuer.name : `CN=${options.name}`,
    notBefore: options.notBefore ?? new Date(now - DAY),
    notAfter: options.notAfter ?? new Date(now + 90 * DAY),
    signingAlgorithm: {
      name: "RSASSA-PKCS1-v1_5",
      hash: (signingKey.algorithm as RsaHashedKeyAlgorithm).hash.name,
    },
    publicKey: keys.publicKey,
    signingKey,
    extensions,
  });
  const der = Buffer.from(cert.rawData);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    der,
    pem: `${cert.toString("pem").trim()}\n`,
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`,
    keys,
    name: `CN=${options.name}`,
    sha256: createHash("sha256").update(der).digest("hex"),
  };
}

/** Makes a 1-year self-signed CA with a SHA-1 key: the issuer of a SHA-1 signed leaf. */
export const makeSha1Ca = (name: string) => makeCertificate({ name, ca: true, hash: "SHA-1" });
