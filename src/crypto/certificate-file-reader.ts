import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { DomainError } from "../domain/errors.js";
import { createCertificateBundleCodec } from "./certificate-bundle-codec.js";
import { isJavaKeyStore, parseJavaKeyStore } from "./java-keystore.js";

export type CertificateFileFormat = "pem" | "der" | "pkcs7" | "pkcs12" | "jks" | "jceks" | "private-key";

/** Certificates stored together: a keystore entry (named by its alias) or the whole of a plain file. */
export interface CertificateGroup {
  alias?: string | undefined;
  /** DER, in the order the file holds them. */
  certificates: Buffer[];
  /** Whether the group's first certificate has its private key in the same entry (keystores). */
  keyInEntry: boolean;
}

export interface DecodedCertificateFile {
  format: CertificateFileFormat;
  groups: CertificateGroup[];
  /** SHA-256 of the SubjectPublicKeyInfo of each private key the file holds in readable form. */
  privateKeys: string[];
  /** Private keys present but encrypted under none of the passwords given. */
  lockedKeys: number;
  /** The container itself could not be opened with any password given (PKCS#12), so nothing was read. */
  encrypted: boolean;
  /** For JKS/JCEKS: whether a password given reproduces the file's integrity digest. */
  integrity?: "verified" | "unverified" | "partial" | undefined;
}

const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_DATA = "1.2.840.113549.1.7.1";

const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const spkiFingerprint = (key: KeyObject) =>
  sha256Hex((key.type === "public" ? key : createPublicKey(key)).export({ type: "spki", format: "der" }));

/** SHA-256 of a certificate's SubjectPublicKeyInfo, comparable with DecodedCertificateFile.privateKeys. */
export function certificateKeyFingerprint(der: Uint8Array): string {
  return spkiFingerprint(new X509Certificate(der).publicKey);
}

function isCertificate(der: Uint8Array): boolean {
  try {
    new X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}

/** The certificates of a CMS SignedData (RFC 5652 §5.1), the degenerate "certs-only" PKCS#7 included. */
function pkcs7Certificates(der: Uint8Array): Buffer[] | undefined {
  const parsed = asn1js.fromBER(Uint8Array.from(der));
  if (parsed.offset === -1) return undefined;
  let info: pkijs.ContentInfo;
  try {
    info = new pkijs.ContentInfo({ schema: parsed.result });
  } catch {
    return undefined;
  }
  if (info.contentType !== OID_SIGNED_DATA) return undefined;
  const signed = new pkijs.SignedData({ schema: info.content });
  return (signed.certificates ?? [])
    .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
    .map((c) => Buffer.from(c.toSchema().toBER(false)));
}

/** RFC 7292 §4: PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (data or signedData), … } */
/** The PFX's MAC iteration count (RFC 7292 §4: MacData.iterations, default 1), or undefined when not a PFX. */
function pfxMacIterations(der: Uint8Array): number | undefined {
  const parsed = asn1js.fromBER(Uint8Array.from(der));
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) return undefined;
  const [version, authSafe, macData] = parsed.result.valueBlock.value;
  if (!(version instanceof asn1js.Integer) || version.valueBlock.valueDec !== 3) return undefined;
  const oid = authSafe instanceof asn1js.Sequence ? authSafe.valueBlock.value[0] : undefined;
  if (
    !(
      oid instanceof asn1js.ObjectIdentifier &&
      [OID_DATA, OID_SIGNED_DATA].includes(oid.valueBlock.toString())
    )
  )
    return undefined;
  const iterations = macData instanceof asn1js.Sequence ? macData.valueBlock.value[2] : undefined;
  return iterations instanceof asn1js.Integer ? iterations.valueBlock.valueDec : 1;
}

/**
 * Every password tried costs the file's MAC iterations in PBKDF work; a file claiming more than this
 * (OpenSSL writes 2,048, keytool 10,000) would stall a scan for hours, so it is reported, not opened.
 */
const MAX_PFX_ITERATIONS = 1_000_000;

type KeyAttempt = { key: KeyObject } | { locked: true } | undefined;

/** A private key in any encoding OpenSSL writes, opened with the first password that works. */
function openPrivateKey(
  input: { key: string; format: "pem" } | { key: Buffer; format: "der" },
  passwords: readonly string[],
  encrypted: boolean,
): KeyAttempt {
  const types = input.format === "pem" ? [undefined] : (["pkcs8", "pkcs1", "sec1"] as const);
  for (const type of types) {
    const base = { ...input, ...(type && { type }) };
    if (!encrypted) {
      try {
        return { key: createPrivateKey(base as Parameters<typeof createPrivateKey>[0]) };
      } catch {
        continue;
      }
    }
    for (const passphrase of passwords) {
      try {
        return { key: createPrivateKey({ ...base, passphrase } as Parameters<typeof createPrivateKey>[0]) };
      } catch {
        // the next password
      }
    }
  }
  return encrypted ? { locked: true } : undefined;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

function decodePem(text: string, passwords: readonly string[]): DecodedCertificateFile | undefined {
  const certificates: Buffer[] = [];
  const privateKeys: string[] = [];
  let lockedKeys = 0;
  let pkcs7 = false;
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? "";
    const body = match[2] ?? "";
    if (/^(X509 |TRUSTED )?CERTIFICATE$/.test(label)) {
      const der = Buffer.from(body.replace(/^[\w-]+:.*$/gm, "").replace(/\s+/g, ""), "base64");
      // OpenSSL's TRUSTED CERTIFICATE appends its trust settings after the certificate's DER.
      const certificate = label === "TRUSTED CERTIFICATE" ? firstElement(der) : der;
      if (certificate && isCertificate(certificate)) certificates.push(certificate);
    } else if (label === "PKCS7" || label === "CMS") {
      const found = pkcs7Certificates(Buffer.from(body.replace(/\s+/g, ""), "base64"));
      if (found) {
        pkcs7 = true;
        certificates.push(...found);
      }
    } else if (/PRIVATE KEY$/.test(label)) {
      const encrypted = label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(body);
      const opened = openPrivateKey({ key: match[0], format: "pem" }, passwords, encrypted);
      if (opened && "key" in opened) privateKeys.push(spkiFingerprint(opened.key));
      else if (opened) lockedKeys++;
    }
  }
  if (certificates.length === 0 && privateKeys.length === 0 && lockedKeys === 0) return undefined;
  return {
    format: certificates.length === 0 ? "private-key" : pkcs7 ? "pkcs7" : "pem",
    groups: certificates.length ? [{ certificates, keyInEntry: false }] : [],
    privateKeys,
    lockedKeys,
    encrypted: false,
  };
}

/** The bytes of the first DER element, dropping what follows it. */
function firstElement(der: Buffer): Buffer | undefined {
  const parsed = asn1js.fromBER(Uint8Array.from(der));
  return parsed.offset === -1 ? undefined : der.subarray(0, parsed.offset);
}

function decodePkcs12(bytes: Buffer, passwords: readonly string[]): DecodedCertificateFile {
  const codec = createCertificateBundleCodec();
  // An empty password protects nothing, so such files are read even with no password configured.
  for (const password of [...new Set([...passwords, ""])]) {
    let opened: ReturnType<typeof codec.parsePfx>;
    try {
      opened = codec.parsePfx(bytes, password);
    } catch (error) {
      if (error instanceof DomainError && error.reason === "WrongPassword") continue;
      throw error;
    }
    const key = opened.pkcs8 && createPrivateKey({ key: opened.pkcs8, format: "der", type: "pkcs8" });
    const keyFingerprint = key ? spkiFingerprint(key) : undefined;
    // The leaf first: a PFX's bags come in any order, and the key's certificate is the leaf.
    const certificates = [...opened.certificates].sort(
      (a, b) =>
        Number(certificateKeyFingerprint(b) === keyFingerprint) -
        Number(certificateKeyFingerprint(a) === keyFingerprint),
    );
    return {
      format: "pkcs12",
      groups: certificates.length
        ? [
            {
              certificates,
              keyInEntry:
                keyFingerprint !== undefined &&
                certificateKeyFingerprint(certificates[0] as Buffer) === keyFingerprint,
            },
          ]
        : [],
      privateKeys: keyFingerprint ? [keyFingerprint] : [],
      lockedKeys: 0,
      encrypted: false,
    };
  }
  return { format: "pkcs12", groups: [], privateKeys: [], lockedKeys: 0, encrypted: true };
}

/**
 * What a file holds, read from its bytes whatever its name: PEM (certificates, PKCS#7, private keys,
 * encrypted ones opened with `passwords`), DER certificates, PKCS#7 and private keys, PKCS#12 (opened
 * with the first password that verifies), JKS and JCEKS keystores. Undefined for anything else.
 * Throws when a file is recognised but damaged.
 */
export function readCertificateFile(
  bytes: Buffer,
  passwords: readonly string[],
): DecodedCertificateFile | undefined {
  if (isJavaKeyStore(bytes)) {
    const store = parseJavaKeyStore(bytes, passwords);
    return {
      format: store.type === "JKS" ? "jks" : "jceks",
      groups: store.entries.map((e) => ({
        alias: e.alias,
        certificates: e.certificates,
        keyInEntry: e.kind === "privateKey",
      })),
      // Keystore keys are reported through keyInEntry; they stay encrypted and are not opened.
      privateKeys: [],
      lockedKeys: 0,
      encrypted: false,
      integrity: store.integrity,
    };
  }
  if (bytes.includes("-----BEGIN ")) return decodePem(bytes.toString("latin1"), passwords);
  // Every DER format here is a SEQUENCE.
  if (bytes[0] !== 0x30) return undefined;
  if (isCertificate(bytes))
    return {
      format: "der",
      groups: [{ certificates: [bytes], keyInEntry: false }],
      privateKeys: [],
      lockedKeys: 0,
      encrypted: false,
    };
  const signed = pkcs7Certificates(bytes);
  if (signed)
    return {
      format: "pkcs7",
      groups: signed.length ? [{ certificates: signed, keyInEntry: false }] : [],
      privateKeys: [],
      lockedKeys: 0,
      encrypted: false,
    };
  const macIterations = pfxMacIterations(bytes);
  if (macIterations !== undefined) {
    if (macIterations > MAX_PFX_ITERATIONS)
      throw new Error(
        `the PKCS#12 MAC asks for ${macIterations} iterations, over the ${MAX_PFX_ITERATIONS} read`,
      );
    return decodePkcs12(bytes, passwords);
  }
  const key = openPrivateKey({ key: bytes, format: "der" }, passwords, false);
  if (key && "key" in key)
    return {
      format: "private-key",
      groups: [],
      privateKeys: [spkiFingerprint(key.key)],
      lockedKeys: 0,
      encrypted: false,
    };
  const locked = openPrivateKey({ key: bytes, format: "der" }, passwords, true);
  if (locked && "key" in locked)
    return {
      format: "private-key",
      groups: [],
      privateKeys: [spkiFingerprint(locked.key)],
      lockedKeys: 0,
      encrypted: false,
    };
  return undefined;
}
