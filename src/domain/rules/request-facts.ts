import { createPublicKey } from "node:crypto";
import type { CsrFacts, PublicKeyDetails } from "../ca/model.js";
import type { CertificatePolicy, SubjectAlternativeNames } from "../certificates/model.js";
import type { CertificateFacts, SubjectAltName } from "../inventory/model.js";
import type { CertificateRequestFacts } from "./issuance-gate.js";

const DAY_MS = 86_400_000;

/** Key Vault's SAN lists in the rules' terms. UPNs are not names a rule judges. */
export function sansOf(sans: SubjectAlternativeNames): SubjectAltName[] {
  return [
    ...sans.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...sans.ipAddresses.map((value) => ({ type: "ip" as const, value })),
    ...sans.emails.map((value) => ({ type: "email" as const, value })),
    ...sans.uris.map((value) => ({ type: "uri" as const, value })),
  ];
}

/** Days a validity in months lasts from `now`, counted on the calendar as Key Vault's issuers do. */
function monthsInDays(months: number, now: Date): number {
  const end = new Date(now);
  end.setUTCMonth(end.getUTCMonth() + months);
  return Math.round((end.getTime() - now.getTime()) / DAY_MS);
}

/** What a Key Vault certificate policy asks for: the facts of create and policy update. */
export function policyFacts(policy: CertificatePolicy, now: Date): CertificateRequestFacts {
  const validityDays = monthsInDays(policy.validityMonths, now);
  const autoRenew = policy.lifetimeActions.find((a) => a.action === "AutoRenew");
  const autoRenewDaysBeforeExpiry =
    autoRenew?.daysBeforeExpiry ??
    (autoRenew?.lifetimePercentage === undefined
      ? undefined
      : Math.floor((validityDays * (100 - autoRenew.lifetimePercentage)) / 100));
  return {
    subject: policy.subject,
    sans: sansOf(policy.sans),
    keyType: policy.key.kty.replace(/-HSM$/, ""),
    keySize: policy.key.kty.startsWith("RSA") ? policy.key.keySize : undefined,
    curve: policy.key.kty.startsWith("EC") ? policy.key.curve : undefined,
    validityDays,
    ekus: policy.ekus,
    exportable: policy.key.exportable,
    autoRenewDaysBeforeExpiry,
    issuerName: policy.issuer.name,
  };
}

/** What an existing certificate is, in the rules' terms: an import, a merge, an inventory record. */
export function certificateFacts(
  facts: Pick<
    CertificateFacts,
    "subject" | "sans" | "keyType" | "keySize" | "curve" | "signatureAlgorithm" | "notBefore" | "notAfter"
  >,
  extras: { ekus?: string[] | undefined; issuerName?: string | undefined } = {},
): CertificateRequestFacts {
  return {
    subject: facts.subject,
    sans: facts.sans,
    keyType: facts.keyType,
    keySize: facts.keyType === "RSA" ? facts.keySize : undefined,
    curve: facts.curve,
    signatureHash: facts.signatureAlgorithm,
    validityDays: Math.round((facts.notAfter.getTime() - facts.notBefore.getTime()) / DAY_MS),
    ekus: extras.ekus,
    issuerName: extras.issuerName,
  };
}

type KeyFacts = Pick<CertificateRequestFacts, "keyType" | "keySize" | "curve">;

/** The key of a SubjectPublicKeyInfo (DER): type, RSA size, EC curve. */
export function spkiKey(spki: Buffer): KeyFacts {
  const key = createPublicKey({ key: spki, format: "der", type: "spki" });
  return publicKeyFacts({ type: key.asymmetricKeyType, ...key.asymmetricKeyDetails });
}

/** A CSR's key, from what reading the CSR found when that was recorded, else from its SPKI. */
export const csrKey = (csr: Pick<CsrFacts, "publicKey" | "key">): KeyFacts =>
  csr.key ? publicKeyFacts(csr.key) : spkiKey(csr.publicKey);

function publicKeyFacts(details: PublicKeyDetails): KeyFacts {
  switch (details.type) {
    case "rsa":
    case "rsa-pss":
      return { keyType: "RSA", keySize: details.modulusLength };
    case "ec": {
      const curves: Record<string, string> = {
        prime256v1: "P-256",
        secp384r1: "P-384",
        secp521r1: "P-521",
        secp256k1: "P-256K",
      };
      return { keyType: "EC", curve: curves[details.namedCurve ?? ""] ?? details.namedCurve };
    }
    case "ed25519":
      return { keyType: "Ed25519" };
    case "ed448":
      return { keyType: "Ed448" };
    default:
      return { keyType: details.type?.toUpperCase() ?? "unknown" };
  }
}

/** The CN of an RFC 4514-style name, which is how a certificate names its issuer to a rule. */
export const commonName = (name: string): string | undefined => /(?:^|,\s*)CN=([^,]+)/.exec(name)?.[1];

/**
 * A certificate handed in with a Key Vault policy (import, merge): the certificate's own facts,
 * and the policy's exportability and lifetime actions.
 */
export function issuedFacts(
  facts: CertificateFacts,
  policy: CertificatePolicy,
  extras: { ekus: string[]; chain: Buffer[]; now: Date },
): CertificateRequestFacts {
  const fromPolicy = policyFacts(policy, extras.now);
  return {
    ...certificateFacts(facts, { ekus: extras.ekus, issuerName: commonName(facts.issuer) }),
    exportable: fromPolicy.exportable,
    autoRenewDaysBeforeExpiry: fromPolicy.autoRenewDaysBeforeExpiry,
    chain: extras.chain,
  };
}
