import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as Crypto);

export type TestKey = "RSA-1024" | "RSA-2048" | "P-256" | "P-384";

const ALGORITHMS: Record<TestKey, RsaHashedKeyGenParams | EcKeyGenParams> = {
  "RSA-1024": {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 1024,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  "RSA-2048": {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  "P-256": { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as EcKeyGenParams,
  "P-384": { name: "ECDSA", namedCurve: "P-384", hash: "SHA-384" } as EcKeyGenParams,
};

export interface TestCertificate {
  der: Uint8Array;
  subject: string;
  keys: CryptoKeyPair;
  key: TestKey;
}

/** A real certificate for inventory tests: self-signed CA when no issuer is given, else a leaf. */
export async function testCertificate(options: {
  subject: string;
  key?: TestKey;
  issuer?: TestCertificate;
  notBefore?: Date;
  notAfter: Date;
  dns?: string[];
  /** Self-signed with SHA-1 (sha1WithRSAEncryption for an RSA key). */
  sha1?: boolean;
}): Promise<TestCertificate> {
  const key = options.key ?? "P-256";
  // WebCrypto signs with the hash the signing key was made for, so a SHA-1 certificate needs a SHA-1 key.
  const alg = { ...ALGORITHMS[key], ...(options.sha1 && { hash: "SHA-1" }) };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const signerKey = options.issuer?.key ?? key;
  const signingAlgorithm = options.issuer ? ALGORITHMS[signerKey] : alg;
  const extensions: x509.Extension[] = [
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    new x509.BasicConstraintsExtension(options.issuer === undefined, undefined, true),
  ];
  if (options.issuer)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey));
  if (options.dns)
    extensions.push(
      new x509.SubjectAlternativeNameExtension(options.dns.map((value) => ({ type: "dns" as const, value }))),
    );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(12)))
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    subject: options.subject,
    issuer: options.issuer?.subject ?? options.subject,
    notBefore: options.notBefore ?? new Date(options.notAfter.getTime() - 365 * 86_400_000),
    notAfter: options.notAfter,
    publicKey: keys.publicKey,
    signingKey: options.issuer?.keys.privateKey ?? keys.privateKey,
    signingAlgorithm,
    extensions,
  });
  return { der: new Uint8Array(cert.rawData), subject: options.subject, keys, key };
}

/** The certificate with its private key as one PEM file, as `cert import` and Key Vault's import take it. */
export async function pemWithKey(cert: TestCertificate): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", cert.keys.privateKey));
  const der = Buffer.from(cert.der);
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64")}\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n${der.toString("base64")}\n-----END CERTIFICATE-----\n`;
}
