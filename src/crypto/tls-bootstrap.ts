import "reflect-metadata";
import { X509Certificate as NodeX509, webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import type { Sealer } from "../domain/sealing/ports.js";
import { toPem as pem } from "./pem.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
const SERVER_DAYS = 397;
const RENEW_BEFORE_DAYS = 30;

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The bootstrap CA certificate clients must trust; absent when the operator brought their own. */
  caFile?: string;
}

async function exportKey(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key as webcrypto.CryptoKey));
}

async function importKey(pkcs8: Buffer): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey("pkcs8", pkcs8, EC, true, ["sign"])) as unknown as CryptoKey;
}

const randomSerial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString("hex")
    .replace(/^[89a-f]/, "1");

function sanEntries(hostNames: readonly string[]): x509.JsonGeneralName[] {
  return hostNames.map((name) =>
    /^[\d.]+$/.test(name) || name.includes(":") ? { type: "ip", value: name } : { type: "dns", value: name },
  );
}

/** True when the certificate expires within the renewal window or does not cover every name. */
function needsReissue(certPem: string, hostNames: readonly string[], now: Date): boolean {
  const cert = new NodeX509(certPem);
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return true;
  const sans = (cert.subjectAltName ?? "").split(", ");
  return hostNames.some(
    (name) => !sans.some((san) => san === `DNS:${name}` || san.replace(/^IP Address:/, "") === name),
  );
}

/**
 * The server's TLS certificate, signed by a bootstrap CA made on first start. The CA's and server's
 * private keys are kept sealed under the master key; `ca.pem` is what clients trust. The server
 * certificate is re-issued when it nears expiry or a host name is added.
 */
export async function ensureBootstrapTls(
  dataDir: string,
  sealer: Sealer,
  hostNames: readonly string[],
  now = new Date(),
): Promise<TlsMaterial> {
  const dir = join(dataDir, "tls");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    ca: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.sealed"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server-key.sealed"),
  };

  let caCert: x509.X509Certificate;
  let caKey: CryptoKey;
  if (existsSync(files.ca) && existsSync(files.caKey)) {
    caCert = new x509.X509Certificate(readFileSync(files.ca, "utf8"));
    caKey = await importKey(sealer.open(readFileSync(files.caKey), "tls/ca-key"));
  } else {
    const keys = (await webcrypto.subtle.generateKey(EC, true, [
      "sign",
      "verify",
    ])) as unknown as CryptoKeyPair;
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=Strongroom bootstrap CA ${new Date(now).toISOString().slice(0, 10)}`,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
      signingAlgorithm: SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    caKey = keys.privateKey;
    writeFileSync(files.caKey, sealer.seal(await exportKey(caKey), "tls/ca-key"), { mode: 0o600 });
    writeFileSync(files.ca, caCert.toString("pem"), { mode: 0o644 });
  }

  if (existsSync(files.cert) && existsSync(files.key)) {
    const certPem = readFileSync(files.cert, "utf8");
    if (!needsReissue(certPem, hostNames, now)) {
      const key = sealer.open(readFileSync(files.key), "tls/server-key");
      return { cert: certPem, key: pem("PRIVATE KEY", key), caFile: files.ca };
    }
  }

  const serverKeys = (await webcrypto.subtle.generateKey(EC, true, [
    "sign",
    "verify",
  ])) as unknown as CryptoKeyPair;
  const serverCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${hostNames[0] ?? "localhost"}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + SERVER_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey: serverKeys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(sanEntries(hostNames), false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  const keyDer = await exportKey(serverKeys.privateKey);
  const chain = `${serverCert.toString("pem")}\n${caCert.toString("pem")}`;
  writeFileSync(files.key, sealer.seal(keyDer, "tls/server-key"), { mode: 0o600 });
  writeFileSync(files.cert, chain, { mode: 0o644 });
  return { cert: chain, key: pem("PRIVATE KEY", keyDer), caFile: files.ca };
}
