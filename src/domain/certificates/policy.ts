import { badParameter } from "../errors.js";
import { CURVES, type CurveName } from "../keys/model.js";
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

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const CONTENT_TYPES: CertificateContentType[] = ["application/x-pkcs12", "application/x-pem-file"];
const EC_SIZES: Record<CurveName, number> = { "P-256": 256, "P-384": 384, "P-521": 521, "P-256K": 256 };

function fail(field: string, message: string): never {
  throw badParameter(`policy.${field}: ${message}`);
}

function keyProps(
  input: PolicyInput["key"],
  base: CertificatePolicy["key"] | undefined,
): CertificatePolicy["key"] {
  const kty = (input?.kty ?? base?.kty ?? "RSA") as CertificatePolicy["key"]["kty"];
  if (!["RSA", "RSA-HSM", "EC", "EC-HSM"].includes(kty))
    fail("key_props.kty", `must be RSA, RSA-HSM, EC or EC-HSM, not "${kty}"`);
  const exportable = input?.exportable ?? base?.exportable ?? true;
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
        action: issuerName.toLowerCase() === "unknown" ? "EmailContacts" : "AutoRenew",
      },
    ];
  }
  return input.map((a, i) => {
    const field = `lifetime_actions[${i}]`;
    if (a.action !== "AutoRenew" && a.action !== "EmailContacts") {
      fail(`${field}.action.action_type`, `must be AutoRenew or EmailContacts, not "${String(a.action)}"`);
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
  for (const eku of ekus)
    if (!OID.test(eku))
      fail("x509_props.ekus", `"${eku}" is not an object identifier such as ${SERVER_AUTH}`);
  const key = keyProps(input.key, base?.key);
  const keyUsage = (input.keyUsage ??
    base?.keyUsage ??
    (key.kty.startsWith("RSA")
      ? ["digitalSignature", "keyEncipherment"]
      : ["digitalSignature"])) as KeyUsage[];
  for (const usage of keyUsage) {
    if (!KEY_USAGES.includes(usage))
      fail("x509_props.key_usage", `"${usage}" is not one of ${KEY_USAGES.join(", ")}`);
  }
  const sans: SubjectAlternativeNames = {
    dnsNames: input.sans?.dnsNames ?? base?.sans.dnsNames ?? [],
    emails: input.sans?.emails ?? base?.sans.emails ?? [],
    upns: input.sans?.upns ?? base?.sans.upns ?? [],
    uris: input.sans?.uris ?? base?.sans.uris ?? [],
    ipAddresses: input.sans?.ipAddresses ?? base?.sans.ipAddresses ?? [],
  };
  const subject = input.subject ?? base?.subject ?? "";
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
        ? base.lifetimeActions
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
