import { badParameter } from "../errors.js";
import { CURVES, type CurveName } from "../keys/model.js";
import { parseDistinguishedName } from "./distinguished-name.js";
import {
  type CertificateContentType,
  type CertificatePolicy,
  KEY_USAGES,
  type KeyUsage,
  type LifetimeAction,
  type SubjectAlternativeNames,
} from "./model.js";

/** A policy as a client sends it: any field may be missing. */
export interface PolicyInput {
  key?: { kty?: string; keySize?: number; curve?: string; exportable?: boolean; reuseKey?: boolean };
  contentType?: string;
  subject?: string;
  sans?: Partial<SubjectAlternativeNames>;
  ekus?: string[];
  keyUsage?: string[];
  validityMonths?: number;
  ca?: boolean;
  lifetimeActions?: { lifetimePercentage?: number; daysBeforeExpiry?: number; action?: string }[];
  issuer?: { name?: string; certificateType?: string; certificateTransparency?: boolean };
  enabled?: boolean;
}

/**
 * A policy change worked out from the policy it changes: a campaign's new key type keeps an HSM key
 * in the HSM, so what it asks of each certificate depends on that certificate's policy.
 */
export type PolicyChange = (current: CertificatePolicy) => PolicyInput;

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const CONTENT_TYPES: CertificateContentType[] = ["application/x-pkcs12", "application/x-pem-file"];
const EC_SIZES: Record<CurveName, number> = { "P-256": 256, "P-384": 384, "P-521": 521, "P-256K": 256 };

function fail(field: string, message: string): never {
  throw badParameter(`policy.${field}: ${message}`);
}

/**
 * How long a policy's lists may be. A certificate with thousands of SANs exceeds what X.509 parsers
 * accept (asn1js: "Maximum ASN.1 node count exceeded"), and CAs cap names per certificate (Let's
 * Encrypt: 100); the rest bound what one policy can make the server evaluate on every renewal.
 */
export const POLICY_LIMITS = {
  sansPerKind: 100,
  ekus: 20,
  keyUsages: 9,
  lifetimeActions: 10,
} as const;

function checkLength(field: string, list: unknown[], limit: number, what: string): void {
  if (list.length > limit) fail(field, `at most ${limit} ${what}, not ${list.length}`);
}

function keyProps(
  input: PolicyInput["key"],
  base: CertificatePolicy["key"] | undefined,
): CertificatePolicy["key"] {
  const kty = (input?.kty ?? base?.kty ?? "RSA") as CertificatePolicy["key"]["kty"];
  if (!["RSA", "RSA-HSM", "EC", "EC-HSM"].includes(kty))
    fail("key_props.kty", `must be RSA, RSA-HSM, EC or EC-HSM, not "${kty}"`);
  // Key Vault: "Exportable keys are allowed only with RSA and EC. HSM keys are non-exportable."
  // (about-certificates). Left unsaid, exportable is false for them, so the stored policy says so.
  const hsm = kty.endsWith("-HSM");
  if (hsm && input?.exportable === true)
    fail("key_props.exportable", `must be false for ${kty}: a key in the HSM never leaves it`);
  const exportable = hsm ? false : (input?.exportable ?? base?.exportable ?? true);
  const reuseKey = input?.reuseKey ?? base?.reuseKey ?? false;
  if (kty.startsWith("RSA")) {
    if (input?.curve !== undefined) fail("key_props.crv", "is not allowed for RSA keys");
    const keySize = input?.keySize ?? (base?.kty.startsWith("RSA") ? base.keySize : undefined) ?? 2048;
    if (![2048, 3072, 4096].includes(keySize))
      fail("key_props.key_size", `must be 2048, 3072 or 4096 for RSA, not ${keySize}`);
    return { kty, keySize, exportable, reuseKey };
  }
  const curve = (input?.curve ??
    (base?.kty.startsWith("EC") ? base.curve : undefined) ??
    "P-256") as CurveName;
  if (!CURVES.includes(curve)) fail("key_props.crv", `must be one of ${CURVES.join(", ")}, not "${curve}"`);
  if (input?.keySize !== undefined && input.keySize !== EC_SIZES[curve]) {
    fail("key_props.key_size", `${input.keySize} contradicts curve ${curve} (${EC_SIZES[curve]} bits)`);
  }
  return { kty, curve, keySize: EC_SIZES[curve], exportable, reuseKey };
}

const isUnknown = (issuerName: string) => issuerName.toLowerCase() === "unknown";

/**
 * Lifetime actions kept from the previous policy. When the issuer has become Unknown (an import, or
 * an update naming no new actions) an AutoRenew keeps its trigger and becomes the e-mail notice that
 * Unknown certificates get: a renewal could not complete without someone merging it.
 */
const inheritedLifetimeActions = (actions: LifetimeAction[], issuerName: string): LifetimeAction[] =>
  isUnknown(issuerName)
    ? actions.map((a) => (a.action === "AutoRenew" ? { ...a, action: "EmailContacts" } : a))
    : actions;

function lifetimeActions(
  input: PolicyInput["lifetimeActions"],
  issuerName: string,
  validityMonths: number,
): LifetimeAction[] {
  if (input === undefined) {
    // Key Vault's defaults: renew self-signed certificates at 80 %, tell the contacts for the rest.
    return [
      {
        lifetimePercentage: 80,
        action: isUnknown(issuerName) ? "EmailContacts" : "AutoRenew",
      },
    ];
  }
  if (!Array.isArray(input)) fail("lifetime_actions", "must be a list");
  checkLength("lifetime_actions", input, POLICY_LIMITS.lifetimeActions, "lifetime actions");
  return input.map((a, i) => {
    const field = `lifetime_actions[${i}]`;
    if (a.action !== "AutoRenew" && a.action !== "EmailContacts") {
      fail(`${field}.action.action_type`, `must be AutoRenew or EmailContacts, not "${String(a.action)}"`);
    }
    // Key Vault renews only what it can have issued: for a non-integrated CA it sends near-expiry
    // e-mail instead (overview-renew-certificate), and an Unknown issuer's renewal is a new CSR to merge.
    if (a.action === "AutoRenew" && isUnknown(issuerName)) {
      fail(
        `${field}.action.action_type`,
        "AutoRenew needs an issuer that can renew; with issuer Unknown only EmailContacts applies",
      );
    }
    const triggers = [a.lifetimePercentage, a.daysBeforeExpiry].filter((t) => t !== undefined);
    if (triggers.length !== 1)
      fail(`${field}.trigger`, "needs exactly one of lifetime_percentage and days_before_expiry");
    if (
      a.lifetimePercentage !== undefined &&
      (!Number.isInteger(a.lifetimePercentage) || a.lifetimePercentage < 1 || a.lifetimePercentage > 99)
    ) {
      fail(
        `${field}.trigger.lifetime_percentage`,
        `must be an integer from 1 to 99, not ${a.lifetimePercentage}`,
      );
    }
    if (
      a.daysBeforeExpiry !== undefined &&
      (!Number.isInteger(a.daysBeforeExpiry) ||
        a.daysBeforeExpiry < 1 ||
        a.daysBeforeExpiry >= validityMonths * 28)
    ) {
      fail(
        `${field}.trigger.days_before_expiry`,
        `must be an integer from 1 to less than the validity (${validityMonths} months)`,
      );
    }
    return a.lifetimePercentage !== undefined
      ? { lifetimePercentage: a.lifetimePercentage, action: a.action }
      : { daysBeforeExpiry: a.daysBeforeExpiry, action: a.action };
  });
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const EMAIL_LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** RFC 5280 §4.2.1.6 preferred name syntax (LDH labels, A-labels for IDNs); `*.` only as the first label. */
function isDnsName(name: string, wildcard: boolean): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (wildcard && labels[0] === "*" && labels.length > 1) labels.shift();
  return labels.every((label) => DNS_LABEL.test(label));
}

/** `local@domain` split at the last `@`, or undefined when there is none or nothing before it. */
function atDomain(text: string): { local: string; domain: string } | undefined {
  const at = text.lastIndexOf("@");
  return at > 0 ? { local: text.slice(0, at), domain: text.slice(at + 1) } : undefined;
}

function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  // The WHATWG URL parser's IPv6 grammar is RFC 4291 §2.2 (embedded IPv4 included, zone ids not).
  return text.includes(":") && /^[0-9A-Fa-f:.]+$/.test(text) && URL.canParse(`http://[${text}]/`);
}

/** What each SAN list's entries must be, for the X.509 encoding each gets (RFC 5280 §4.2.1.6). */
const SAN_RULES: Record<
  keyof SubjectAlternativeNames,
  { wire: string; valid(v: string): boolean; is: string }
> = {
  dnsNames: {
    wire: "dns_names",
    valid: (v) => isDnsName(v, true),
    is: "a DNS name such as www.example.com or *.example.com",
  },
  emails: {
    wire: "emails",
    valid: (v) => {
      const parts = atDomain(v);
      return !!parts && EMAIL_LOCAL_PART.test(parts.local) && isDnsName(parts.domain, false);
    },
    is: "an e-mail address such as pki@example.com",
  },
  upns: {
    wire: "upns",
    valid: (v) => {
      const parts = atDomain(v);
      return !!parts && /^[^\s@]+$/.test(parts.local) && isDnsName(parts.domain, false);
    },
    is: "a user principal name of the form user@domain",
  },
  uris: {
    // IA5String, so ASCII; absolute, so with a scheme (RFC 3986 §4.3).
    wire: "uris",
    valid: (v) => /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/.test(v) && URL.canParse(v),
    is: "an absolute URI such as https://example.com/path",
  },
  ipAddresses: { wire: "ipAddresses", valid: isIpAddress, is: "an IPv4 or IPv6 address" },
};

function sanList(
  input: PolicyInput,
  base: CertificatePolicy | undefined,
  kind: keyof SubjectAlternativeNames,
): string[] {
  const list = input.sans?.[kind] ?? base?.sans[kind] ?? [];
  const rule = SAN_RULES[kind];
  const field = `x509_props.sans.${rule.wire}`;
  if (!Array.isArray(list)) fail(field, "must be a list");
  checkLength(field, list, POLICY_LIMITS.sansPerKind, "names");
  list.forEach((value, i) => {
    if (typeof value !== "string" || !rule.valid(value))
      fail(`${field}[${i}]`, `${JSON.stringify(value)} is not ${rule.is}`);
  });
  return list;
}

/** What an imported private key is: Key Vault sets key_props from it, not from the request. */
export type ImportedKey = { kty: "RSA"; keySize: number } | { kty: "EC"; curve: string };

/**
 * The key properties of an imported certificate: the type, size and curve of the key that came with
 * it, exportable and reuse_key as asked (and RSA-HSM/EC-HSM to import it into the HSM). A request
 * that says otherwise is refused, naming the field: renewals make their keys from these properties.
 */
export function importedKeyProps(
  key: ImportedKey,
  requested: PolicyInput["key"],
): NonNullable<PolicyInput["key"]> {
  const kty = requested?.kty ?? key.kty;
  if (kty.replace(/-HSM$/, "") !== key.kty)
    fail("key_props.kty", `"${kty}" contradicts the imported key, which is ${key.kty}`);
  let facts: { keySize: number; curve?: CurveName };
  if (key.kty === "RSA") facts = { keySize: key.keySize };
  else {
    const curve = key.curve as CurveName;
    if (!CURVES.includes(curve))
      fail("key_props.crv", `the imported key's curve ${key.curve} is not one of ${CURVES.join(", ")}`);
    facts = { keySize: EC_SIZES[curve], curve };
  }
  if (requested?.curve !== undefined && requested.curve !== facts.curve) {
    fail(
      "key_props.crv",
      facts.curve
        ? `"${requested.curve}" contradicts the imported key's curve ${facts.curve}`
        : "is not allowed for RSA keys",
    );
  }
  if (requested?.keySize !== undefined && requested.keySize !== facts.keySize) {
    fail("key_props.key_size", `${requested.keySize} contradicts the imported key's ${facts.keySize} bits`);
  }
  return {
    kty,
    ...facts,
    ...(requested?.exportable !== undefined && { exportable: requested.exportable }),
    ...(requested?.reuseKey !== undefined && { reuseKey: requested.reuseKey }),
  };
}

/**
 * Completes a policy with Key Vault's defaults (RSA 2048, exportable, PKCS#12, 12 months, server
 * and client auth, 80 % lifetime action…), on top of `base` when updating, and refuses
 * contradictions with a message naming the field.
 */
export function normalizePolicy(input: PolicyInput, base?: CertificatePolicy): CertificatePolicy {
  const issuerName = input.issuer?.name ?? base?.issuer.name ?? "Unknown";
  const contentType = (input.contentType ??
    base?.contentType ??
    "application/x-pkcs12") as CertificateContentType;
  if (!CONTENT_TYPES.includes(contentType))
    fail("secret_props.contentType", `must be ${CONTENT_TYPES.join(" or ")}`);
  const validityMonths = input.validityMonths ?? base?.validityMonths ?? 12;
  if (!Number.isInteger(validityMonths) || validityMonths < 1 || validityMonths > 1200) {
    fail("x509_props.validity_months", `must be an integer from 1 to 1200, not ${validityMonths}`);
  }
  const ekus = input.ekus ?? base?.ekus ?? [SERVER_AUTH, CLIENT_AUTH];
  if (!Array.isArray(ekus)) fail("x509_props.ekus", "must be a list of object identifiers");
  checkLength("x509_props.ekus", ekus, POLICY_LIMITS.ekus, "extended key usages");
  for (const eku of ekus)
    if (typeof eku !== "string" || !OID.test(eku))
      fail("x509_props.ekus", `${JSON.stringify(eku)} is not an object identifier such as ${SERVER_AUTH}`);
  const key = keyProps(input.key, base?.key);
  const keyUsage = (input.keyUsage ??
    base?.keyUsage ??
    (key.kty.startsWith("RSA")
      ? ["digitalSignature", "keyEncipherment"]
      : ["digitalSignature"])) as KeyUsage[];
  if (!Array.isArray(keyUsage)) fail("x509_props.key_usage", `must be a list of ${KEY_USAGES.join(", ")}`);
  checkLength("x509_props.key_usage", keyUsage, POLICY_LIMITS.keyUsages, "key usages");
  for (const usage of keyUsage) {
    if (!KEY_USAGES.includes(usage))
      fail("x509_props.key_usage", `"${usage}" is not one of ${KEY_USAGES.join(", ")}`);
  }
  const sans: SubjectAlternativeNames = {
    dnsNames: sanList(input, base, "dnsNames"),
    emails: sanList(input, base, "emails"),
    upns: sanList(input, base, "upns"),
    uris: sanList(input, base, "uris"),
    ipAddresses: sanList(input, base, "ipAddresses"),
  };
  const subject = input.subject ?? base?.subject ?? "";
  if (typeof subject !== "string") fail("x509_props.subject", "must be a string");
  if (subject !== "") parseDistinguishedName(subject);
  const anySan = Object.values(sans).some((list) => list.length > 0);
  if (!subject && !anySan)
    fail("x509_props.subject", "a subject or at least one subject alternative name is required");
  return {
    key,
    contentType,
    subject,
    sans,
    ekus,
    keyUsage,
    validityMonths,
    ca: input.ca ?? base?.ca ?? false,
    lifetimeActions:
      input.lifetimeActions === undefined && base
        ? inheritedLifetimeActions(base.lifetimeActions, issuerName)
        : lifetimeActions(input.lifetimeActions, issuerName, validityMonths),
    issuer: {
      name: issuerName,
      certificateType: input.issuer?.certificateType ?? base?.issuer.certificateType,
      certificateTransparency: input.issuer?.certificateTransparency ?? base?.issuer.certificateTransparency,
    },
    enabled: input.enabled ?? base?.enabled ?? true,
    createdAt: base?.createdAt,
    updatedAt: base?.updatedAt,
  };
}
