import "reflect-metadata";
import { createHash, createPublicKey, X509Certificate as NativeCertificate, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import type { CaSigner } from "../domain/ca/ports.js";
import {
  type DistinguishedName,
  IA5_ATTRIBUTES,
  parseDistinguishedName,
} from "../domain/certificates/distinguished-name.js";
import type {
  CertificatePolicy,
  ChainVerdict,
  KeyUsage,
  SubjectAlternativeNames,
} from "../domain/certificates/model.js";
import type { CertificateProfile, CertificateSigner, X509Factory } from "../domain/certificates/ports.js";
import { badParameter } from "../domain/errors.js";
import type { SignatureAlgorithm } from "../domain/keys/algorithms.js";
import type { CurveName, PublicKeyParts } from "../domain/keys/model.js";
import { encode, explicit, oid, sequence, set } from "./der.js";
import { publicKeyFromParts, publicParts } from "./jwk.js";
import { fromPem, isPem, pemDer } from "./pem.js";
import { messageSigner, signed } from "./x509-signing.js";

/** Key Vault key usage names as X.509 KeyUsage bits. */
export const USAGE_FLAGS: Record<KeyUsage, number> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
};

const EC_HASH: Record<CurveName, string> = {
  "P-256": "SHA-256",
  "P-384": "SHA-384",
  "P-521": "SHA-512",
  "P-256K": "SHA-256",
};
const JWS_BY_HASH = { "SHA-256": "256", "SHA-384": "384", "SHA-512": "512" } as const;

/**
 * A WebCrypto face for a key held by a KeyProtector, so @peculiar/x509 can build and sign
 * certificates, CSRs and CRLs with keys that never leave their protector (HSM included): `sign`
 * hashes the to-be-signed bytes here and hands the digest to the protector, or for Ed25519 hands
 * over the bytes themselves (RFC 8410 §3, PureEdDSA).
 */
export function protectorCrypto(signer: CertificateSigner | CaSigner): ProtectorCrypto {
  let face = faces.get(signer);
  if (!face) {
    face = buildProtectorCrypto(signer);
    faces.set(signer, face);
  }
  return face;
}

type ProtectorCrypto = ReturnType<typeof buildProtectorCrypto>;

/** A new certificate's CSR and the certificate itself are signed by one signer: its face is built once. */
const faces = new WeakMap<CertificateSigner, ProtectorCrypto>();

/** The WebCrypto algorithm @peculiar/x509 names in what it builds, and how the signer signs for it. */
function webSigning(signer: CertificateSigner | CaSigner) {
  const curve = signer.publicKey.crv;
  if (curve === "P-256K") throw badParameter("Certificates with secp256k1 (P-256K) keys are not supported");
  if (curve === "Ed25519") {
    const ed25519 = messageSigner(signer);
    return {
      algorithm: { name: "Ed25519" },
      signingAlgorithm: { name: "Ed25519" },
      sign: (tbs: Buffer) => ed25519.signMessage(tbs),
    };
  }
  const hash = curve ? EC_HASH[curve] : "SHA-256";
  const jws = `${curve ? "ES" : "RS"}${JWS_BY_HASH[hash as keyof typeof JWS_BY_HASH]}` as SignatureAlgorithm;
  const algorithm = curve
    ? { name: "ECDSA", namedCurve: curve, hash }
    : { name: "RSASSA-PKCS1-v1_5", hash: { name: hash } };
  return {
    algorithm,
    signingAlgorithm: { name: algorithm.name, hash },
    sign: (tbs: Buffer) =>
      signer.sign(jws, createHash(hash.replace("-", "").toLowerCase()).update(tbs).digest()),
  };
}

function buildProtectorCrypto(signer: CertificateSigner | CaSigner) {
  const spki = publicKeyFromParts(signer.publicKey).export({ format: "der", type: "spki" });
  const { algorithm, signingAlgorithm, sign } = webSigning(signer);
  const privateKey = {
    algorithm,
    type: "private",
    extractable: false,
    usages: ["sign"],
  } as unknown as CryptoKey;
  const publicKey = {
    algorithm,
    type: "public",
    extractable: true,
    usages: ["verify"],
  } as unknown as CryptoKey;
  const subtle = {
    digest: (alg: AlgorithmIdentifier, data: BufferSource) => webcrypto.subtle.digest(alg, data),
    exportKey: async () => new Uint8Array(spki).buffer,
    sign: async (_alg: unknown, _key: CryptoKey, data: BufferSource) => {
      const bytes = Buffer.from(data instanceof ArrayBuffer ? data : (data as ArrayBufferView).buffer);
      return new Uint8Array(await sign(bytes)).buffer;
    },
  };
  const crypto = {
    subtle,
    getRandomValues: (a: Uint8Array) => webcrypto.getRandomValues(a),
  } as unknown as Crypto;
  return {
    crypto,
    keys: { privateKey, publicKey },
    signingAlgorithm,
    spki,
    extensions: new WeakMap<CertificatePolicy, Promise<x509.Extension[]>>(),
  };
}

/** The extensions for `policy` and the signer's key, built once for both the CSR and the certificate. */
function extensionsFor(face: ProtectorCrypto, policy: CertificatePolicy): Promise<x509.Extension[]> {
  let list = face.extensions.get(policy);
  if (!list) {
    list = extensions(policy, face.spki, face.crypto);
    face.extensions.set(policy, list);
  }
  return list;
}

/**
 * An IPv6 address in the compressed form @peculiar/x509 encodes correctly: it reads the dotted tail
 * of `::ffff:1.2.3.4` as two hex groups, which the WHATWG URL parser's serialization never has.
 */
const encodableIp = (ip: string) =>
  ip.includes(":") ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;

/** Key Vault's SAN lists and the GeneralName each holds, in the order certificates list them. */
const SAN_TYPES = [
  ["dnsNames", "dns"],
  ["emails", "email"],
  ["uris", "url"],
  ["ipAddresses", "ip"],
  ["upns", "upn"],
] as const satisfies readonly (readonly [keyof SubjectAlternativeNames, x509.JsonGeneralName["type"]])[];

function sanExtension(policy: CertificatePolicy): x509.Extension | undefined {
  const names: x509.JsonGeneralName[] = SAN_TYPES.flatMap(([kind, type]) =>
    policy.sans[kind].map((value) => ({ type, value: type === "ip" ? encodableIp(value) : value })),
  );
  return names.length > 0 ? new x509.SubjectAlternativeNameExtension(names, !policy.subject) : undefined;
}

async function extensions(
  policy: CertificatePolicy,
  spki: Buffer,
  crypto: Crypto,
): Promise<x509.Extension[]> {
  const list: x509.Extension[] = [new x509.BasicConstraintsExtension(policy.ca, undefined, true)];
  if (policy.keyUsage.length > 0) {
    const flags = policy.keyUsage.reduce<number>((all, usage) => all | USAGE_FLAGS[usage], 0);
    list.push(new x509.KeyUsagesExtension(flags as x509.KeyUsageFlags, true));
  }
  if (policy.ekus.length > 0) list.push(new x509.ExtendedKeyUsageExtension(policy.ekus, false));
  const san = sanExtension(policy);
  if (san) list.push(san);
  list.push(
    await x509.SubjectKeyIdentifierExtension.create(new x509.PublicKey(new Uint8Array(spki)), false, crypto),
  );
  return list;
}

/** Adds whole months, as Key Vault's validity_months does. */
function addMonths(date: Date, months: number): Date {
  const out = new Date(date);
  out.setUTCMonth(out.getUTCMonth() + months);
  return out;
}

/** The certificates in PEM text, or the one DER object bare base64 text holds. */
function der(text: string): Buffer[] {
  return isPem(text) ? pemDer(text, "CERTIFICATE") : fromPem(text);
}

const VERSION_1 = Buffer.of(0x02, 0x01, 0x00);

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * RFC 5280 §4.1.2.4 Name from the parsed subject, RDNs in the order written. Strings are
 * PrintableString where they can be, IA5String for e-mail and domain components, else UTF8String,
 * as @peculiar/x509 chose when it encoded subjects (its own text parser drops what it cannot match).
 */
function encodeName(name: DistinguishedName): Buffer {
  return sequence(
    name.map((rdn) =>
      set(
        rdn
          .map((attribute) => {
            const value =
              attribute.der ??
              encode(
                IA5_ATTRIBUTES.has(attribute.oid)
                  ? new asn1js.IA5String({ value: attribute.value })
                  : PRINTABLE.test(attribute.value)
                    ? new asn1js.PrintableString({ value: attribute.value })
                    : new asn1js.Utf8String({ value: attribute.value }),
              );
            return sequence([oid(attribute.oid), value]);
          })
          // X.690 §11.6: a SET OF in DER is sorted by its elements' encodings.
          .sort(Buffer.compare),
      ),
    ),
  );
}

// Parsing and encoding a name costs tens of microseconds, and a policy is a new object per request
// while its subject rarely changes: encoded names are kept by their text (bounded).
const subjectNames = new Map<string, Buffer>();
const SUBJECT_NAMES = 1000;

function subjectName(policy: CertificatePolicy): Buffer {
  const text = policy.subject ?? "";
  let name = subjectNames.get(text);
  if (!name) {
    name = encodeName(text.trim() === "" ? [] : parseDistinguishedName(text));
    if (subjectNames.size >= SUBJECT_NAMES) subjectNames.clear();
    subjectNames.set(text, name);
  }
  return name;
}

const sha1 = (bytes: Buffer) => createHash("sha1").update(bytes).digest();

/** A time as a certificate holds it (RFC 5280 §4.1.2.5: whole seconds, the fraction dropped). */
const wholeSeconds = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000);

const AVERAGE_MONTH_MS = (365.2425 / 12) * 86_400_000;

function profileOf(cert: x509.X509Certificate): CertificateProfile {
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const sans: SubjectAlternativeNames = { dnsNames: [], emails: [], uris: [], ipAddresses: [], upns: [] };
  for (const [kind, type] of SAN_TYPES) sans[kind] = names.filter((n) => n.type === type).map((n) => n.value);
  const usage = cert.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  const months = Math.round((cert.notAfter.getTime() - cert.notBefore.getTime()) / AVERAGE_MONTH_MS);
  return {
    sans,
    ekus: (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String),
    keyUsage: (Object.entries(USAGE_FLAGS) as [KeyUsage, number][])
      .filter(([, flag]) => (usage & flag) !== 0)
      .map(([name]) => name),
    validityMonths: Math.min(1200, Math.max(1, months)),
    ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
  };
}

/** PKCS#9 extensionRequest: the extensions the CA is asked to put in the certificate. */
const EXTENSION_REQUEST = oid("1.2.840.113549.1.9.14");

const RECENT_CERTIFICATES = 64;

export function createX509Factory(): X509Factory {
  // Issuing reads back the certificate just built (chain order, then its facts); @peculiar/x509 parses
  // slowly, so the latest certificates built or read are kept parsed, by their DER.
  const recent = new Map<string, x509.X509Certificate>();
  function remember(der: Buffer, cert: x509.X509Certificate) {
    const key = der.toString("base64");
    if (recent.size >= RECENT_CERTIFICATES && !recent.has(key)) {
      const oldest = recent.keys().next().value;
      if (oldest !== undefined) recent.delete(oldest);
    }
    recent.set(key, cert);
  }

  function parse(bytes: Buffer): x509.X509Certificate {
    const hit = recent.get(bytes.toString("base64"));
    if (hit) return hit;
    try {
      const cert = new x509.X509Certificate(new Uint8Array(bytes));
      remember(bytes, cert);
      return cert;
    } catch (cause) {
      throw badParameter(`Not an X.509 certificate: ${(cause as Error).message}`);
    }
  }

  // Certificates selfSigned built and signed itself: their own signature needs no checking. Held
  // weakly, so an entry lives as long as the parsed certificate does in `recent`.
  const signedHere = new WeakSet<x509.X509Certificate>();

  interface Candidate {
    der: Buffer;
    cert: x509.X509Certificate;
    native?: NativeCertificate;
  }
  const nativeOf = (c: Candidate) => {
    c.native ??= new NativeCertificate(c.der);
    return c.native;
  };

  /**
   * Whether `issuer` issued `child`: the names chain and the issuer's key verifies the child's
   * signature. Names alone would let any certificate carrying the right name pass for the issuer.
   */
  // Verdicts between certificates parsed once and kept in `recent` (a CA's chain, the same in every
  // certificate it issues): a chain is checked once, not once per certificate issued under it.
  const verdicts = new WeakMap<x509.X509Certificate, WeakMap<x509.X509Certificate, boolean>>();

  function issued(issuer: Candidate, child: Candidate): boolean {
    if (child.cert.issuer !== issuer.cert.subject) return false;
    if (issuer === child && signedHere.has(child.cert)) return true;
    const known = verdicts.get(child.cert)?.get(issuer.cert);
    if (known !== undefined) return known;
    let verdict: boolean;
    try {
      verdict = nativeOf(child).verify(nativeOf(issuer).publicKey);
    } catch {
      verdict = false;
    }
    const byIssuer = verdicts.get(child.cert) ?? new WeakMap<x509.X509Certificate, boolean>();
    byIssuer.set(issuer.cert, verdict);
    verdicts.set(child.cert, byIssuer);
    return verdict;
  }

  const selfIssued = (c: Candidate) => c.cert.subject === c.cert.issuer && issued(c, c);

  function orderChain(certs: Buffer[]): ReturnType<X509Factory["orderChain"]> {
    const parsed: Candidate[] = certs.map((c) => ({ der: c, cert: parse(c) }));
    const unique = parsed.filter((p, i) => parsed.findIndex((q) => q.der.equals(p.der)) === i);
    // The leaf is the certificate that issues none of the others; among several, one not
    // self-named (a root or an impostor with an issuer's name issues nothing here either).
    const leaves = unique.filter((p) => !unique.some((q) => q !== p && issued(p, q)));
    const pool = leaves.length > 0 ? leaves : unique;
    const leaf = pool.find((p) => p.cert.subject !== p.cert.issuer) ?? pool[0];
    if (!leaf) throw badParameter("No certificate was given");
    const ordered = [leaf];
    let current = leaf;
    while (!selfIssued(current)) {
      const parent = unique.find((p) => !ordered.includes(p) && issued(p, current));
      if (!parent) break;
      ordered.push(parent);
      current = parent;
    }
    const top = ordered[ordered.length - 1] as Candidate;
    const impostor =
      top.cert.subject === top.cert.issuer ||
      unique.some((p) => !ordered.includes(p) && p.cert.subject === top.cert.issuer);
    const verdict: ChainVerdict = selfIssued(top)
      ? { complete: true }
      : {
          complete: false,
          missingIssuer: top.cert.issuer,
          ...(impostor && { signatureFails: true as const }),
        };
    // Certificates off the leaf's path (a root whose intermediate is missing) are kept, after it.
    const rest = unique.filter((p) => !ordered.includes(p));
    return { leaf: leaf.der, chain: [...ordered.slice(1), ...rest].map((p) => p.der), verdict };
  }

  return {
    async selfSigned(policy, signer, now) {
      const face = protectorCrypto(signer);
      const { crypto, keys, signingAlgorithm, spki } = face;
      const name = new x509.Name(new Uint8Array(subjectName(policy)));
      // Key Vault backdates nbf by ten minutes to allow for clock skew.
      const notBefore = new Date(now.getTime() - 600_000);
      const cert = await x509.X509CertificateGenerator.create(
        {
          serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
            .toString("hex")
            .replace(/^[89a-f]/, "1"),
          subject: name,
          issuer: name,
          notBefore,
          notAfter: addMonths(notBefore, policy.validityMonths),
          publicKey: new x509.PublicKey(new Uint8Array(spki)),
          signingKey: keys.privateKey,
          signingAlgorithm,
          extensions: await extensionsFor(face, policy),
        },
        crypto,
      );
      const der = Buffer.from(cert.rawData);
      remember(der, cert);
      signedHere.add(cert);
      return der;
    },

    async csr(policy, signer) {
      const face = protectorCrypto(signer);
      const extensions = await extensionsFor(face, policy);
      // Assembled from the already-encoded subject, key and extensions: @peculiar/x509's generator
      // serializes through its schema layer and parses its own output again, over a millisecond.
      const requested = sequence(extensions.map((e) => new Uint8Array(e.rawData)));
      const info = sequence([
        VERSION_1,
        subjectName(policy),
        face.spki,
        explicit(0, extensions.length > 0 ? [sequence([EXTENSION_REQUEST, set([requested])])] : []),
      ]);
      return signed(signer, info);
    },

    inspect(bytes) {
      const cert = parse(bytes);
      // node:crypto takes about 200 us to parse a public key under OpenSSL 3, and storing a new
      // version needs only the dates and thumbprint, so the key's parts are read when first asked for.
      let publicKey: PublicKeyParts | undefined;
      return {
        subject: cert.subject,
        issuer: cert.issuer,
        serialNumber: cert.serialNumber,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        get publicKey() {
          publicKey ??= publicParts(
            createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: "der", type: "spki" }),
          );
          return publicKey;
        },
        thumbprint: sha1(bytes),
      };
    },

    profile(bytes) {
      return profileOf(parse(bytes));
    },

    orderChain,

    signedHere(leaf, issuerChain, { notBefore, notAfter }) {
      const { leaf: issuer, chain, verdict } = orderChain(issuerChain);
      return {
        leaf,
        chain: [issuer, ...chain],
        verdict,
        facts: {
          notBefore: wholeSeconds(notBefore),
          notAfter: wholeSeconds(notAfter),
          thumbprint: sha1(leaf),
        },
      };
    },

    csrPublicKey(csr) {
      const request = new x509.Pkcs10CertificateRequest(new Uint8Array(csr));
      const spki = Buffer.from(request.publicKey.rawData);
      return publicParts(createPublicKey({ key: spki, format: "der", type: "spki" }));
    },

    readCertificate(bytes) {
      if (bytes[0] === 0x30) return [bytes];
      const found = der(bytes.toString("utf8"));
      // Base64 of PEM or of base64 text: decode once more and look again (keyvault-api.md §2).
      const once = found.flatMap((b) => (b[0] === 0x30 ? [b] : der(b.toString("utf8"))));
      if (once.length === 0 || once.some((b) => b[0] !== 0x30))
        throw badParameter("x5c entries must be certificates (DER, PEM, or base64 of either)");
      return once;
    },
  };
}
