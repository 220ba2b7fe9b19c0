import type {
  CertificateIssuer,
  CertificateOperation,
  CertificatePolicy,
  CertificateVersion,
  Contact,
  DeletedCertificate,
} from "../../domain/certificates/model.js";
import type { PolicyInput } from "../../domain/certificates/policy.js";
import { objectAttributes, unixSeconds, type VaultContext } from "./wire.js";

/** CertificatePolicy on the wire (keyvault-api.md §2). */
export interface PolicyWire {
  key_props?: { exportable?: boolean; kty?: string; key_size?: number; reuse_key?: boolean; crv?: string };
  secret_props?: { contentType?: string };
  x509_props?: {
    subject?: string;
    ekus?: string[];
    sans?: {
      emails?: string[];
      dns_names?: string[];
      upns?: string[];
      uris?: string[];
      ipAddresses?: string[];
    };
    key_usage?: string[];
    validity_months?: number;
    basic_constraints?: { ca?: boolean };
  };
  lifetime_actions?: {
    trigger?: { lifetime_percentage?: number; days_before_expiry?: number };
    action?: { action_type?: string };
  }[];
  issuer?: { name?: string; cty?: string; cert_transparency?: boolean };
  attributes?: { enabled?: boolean };
}

const defined = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };

export function policyFromWire(w: PolicyWire): PolicyInput {
  const x = w.x509_props;
  return defined({
    key: w.key_props
      ? defined({
          kty: w.key_props.kty,
          keySize: w.key_props.key_size,
          curve: w.key_props.crv,
          exportable: w.key_props.exportable,
          reuseKey: w.key_props.reuse_key,
        })
      : undefined,
    contentType: w.secret_props?.contentType,
    subject: x?.subject,
    sans: x?.sans
      ? defined({
          dnsNames: x.sans.dns_names,
          emails: x.sans.emails,
          upns: x.sans.upns,
          uris: x.sans.uris,
          ipAddresses: x.sans.ipAddresses,
        })
      : undefined,
    ekus: x?.ekus,
    keyUsage: x?.key_usage,
    validityMonths: x?.validity_months,
    ca: x?.basic_constraints?.ca,
    lifetimeActions: w.lifetime_actions?.map((a) =>
      defined({
        lifetimePercentage: a.trigger?.lifetime_percentage,
        daysBeforeExpiry: a.trigger?.days_before_expiry,
        action: a.action?.action_type,
      }),
    ),
    issuer: w.issuer
      ? defined({
          name: w.issuer.name,
          certificateType: w.issuer.cty,
          certificateTransparency: w.issuer.cert_transparency,
        })
      : undefined,
    enabled: w.attributes?.enabled,
  });
}

export function policyToWire(ctx: VaultContext, name: string, p: CertificatePolicy) {
  const list = (l: string[]) => (l.length > 0 ? l : undefined);
  return {
    id: `${ctx.baseUrl}/certificates/${name}/policy`,
    key_props: defined({
      exportable: p.key.exportable,
      kty: p.key.kty,
      key_size: p.key.keySize,
      reuse_key: p.key.reuseKey,
      crv: p.key.curve,
    }),
    secret_props: { contentType: p.contentType },
    x509_props: {
      subject: p.subject,
      sans: defined({
        emails: list(p.sans.emails),
        dns_names: list(p.sans.dnsNames),
        upns: list(p.sans.upns),
        uris: list(p.sans.uris),
        ipAddresses: list(p.sans.ipAddresses),
      }),
      ekus: p.ekus,
      key_usage: p.keyUsage,
      validity_months: p.validityMonths,
      basic_constraints: { ca: p.ca },
    },
    lifetime_actions: p.lifetimeActions.map((a) => ({
      trigger: defined({ lifetime_percentage: a.lifetimePercentage, days_before_expiry: a.daysBeforeExpiry }),
      action: { action_type: a.action },
    })),
    issuer: defined({
      name: p.issuer.name,
      cty: p.issuer.certificateType,
      cert_transparency: p.issuer.certificateTransparency,
    }),
    attributes: defined({
      enabled: p.enabled,
      created: p.createdAt && unixSeconds(p.createdAt),
      updated: p.updatedAt && unixSeconds(p.updatedAt),
    }),
  };
}

const ids = (ctx: VaultContext, c: { name: string; version: string }) => ({
  id: `${ctx.baseUrl}/certificates/${c.name}/${c.version}`,
  kid: `${ctx.baseUrl}/keys/${c.name}/${c.version}`,
  sid: `${ctx.baseUrl}/secrets/${c.name}/${c.version}`,
});

/**
 * Key Vault has no revocation; Strongroom adds `revoked`, `revocationReason` and `revokedOn` to a
 * certificate's attributes when its private CA revoked it (the SDKs ignore members they do not know).
 */
function certificateAttributes(ctx: VaultContext, c: CertificateVersion) {
  return {
    ...objectAttributes(ctx.vault, c),
    ...(c.revocation && {
      revoked: true,
      revocationReason: c.revocation.reason,
      revokedOn: unixSeconds(c.revocation.revokedAt),
    }),
  };
}

export function certificateBundle(ctx: VaultContext, c: CertificateVersion, policy?: CertificatePolicy) {
  return {
    ...ids(ctx, c),
    x5t: c.thumbprint.toString("base64url"),
    cer: c.cer.toString("base64"),
    contentType: c.contentType,
    attributes: certificateAttributes(ctx, c),
    tags: c.tags,
    ...(policy && { policy: policyToWire(ctx, c.name, policy) }),
  };
}

export function certificateItem(ctx: VaultContext, c: CertificateVersion, versioned: boolean) {
  return {
    id: `${ctx.baseUrl}/certificates/${c.name}${versioned ? `/${c.version}` : ""}`,
    attributes: certificateAttributes(ctx, c),
    tags: c.tags,
    x5t: c.thumbprint.toString("base64url"),
  };
}

function deletedFields(ctx: VaultContext, d: DeletedCertificate) {
  return {
    recoveryId: `${ctx.baseUrl}/deletedcertificates/${d.latest.name}`,
    deletedDate: unixSeconds(d.deletedAt),
    scheduledPurgeDate: unixSeconds(d.scheduledPurgeAt),
  };
}

/** DeletedCertificateBundle: a CertificateBundle, policy included, with the deletion's fields. */
export const deletedCertificateBundle = (ctx: VaultContext, d: DeletedCertificate) => ({
  ...certificateBundle(ctx, d.latest, d.policy),
  ...deletedFields(ctx, d),
});

export const deletedCertificateItem = (ctx: VaultContext, d: DeletedCertificate) => ({
  ...certificateItem(ctx, d.latest, false),
  ...deletedFields(ctx, d),
});

/** CertificateOperation (keyvault-api.md §3). */
export function operationWire(ctx: VaultContext, o: CertificateOperation) {
  return {
    id: `${ctx.baseUrl}/certificates/${o.name}/pending`,
    issuer: defined({
      name: o.issuerName,
      cty: o.policy.issuer.certificateType,
      cert_transparency: o.policy.issuer.certificateTransparency,
    }),
    csr: o.csr.toString("base64"),
    cancellation_requested: o.cancellationRequested,
    status: o.status,
    ...(o.statusDetails !== undefined && { status_details: o.statusDetails }),
    ...(o.error && { error: o.error }),
    ...(o.status === "completed" && { target: `${ctx.baseUrl}/certificates/${o.name}` }),
    request_id: o.requestId,
  };
}

export function issuerWire(ctx: VaultContext, i: CertificateIssuer) {
  return {
    id: `${ctx.baseUrl}/certificates/issuers/${i.name}`,
    provider: i.provider,
    ...(i.accountId !== undefined && { credentials: { account_id: i.accountId } }),
    org_details: defined({
      id: i.organizationId,
      admin_details: i.administrators.map((a) =>
        defined({ first_name: a.firstName, last_name: a.lastName, email: a.email, phone: a.phone }),
      ),
    }),
    attributes: { enabled: i.enabled, created: unixSeconds(i.createdAt), updated: unixSeconds(i.updatedAt) },
  };
}

export const contactsWire = (ctx: VaultContext, contacts: Contact[]) => ({
  id: `${ctx.baseUrl}/certificates/contacts`,
  contacts: contacts.map((c) => defined({ email: c.email, name: c.name, phone: c.phone })),
});
