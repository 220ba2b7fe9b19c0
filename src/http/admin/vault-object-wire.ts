import type { CertificateOperation, CertificateVersion } from "../../domain/certificates/model.js";
import type { KeyVersion } from "../../domain/keys/model.js";
import type { VersionedObject } from "../../domain/objects/model.js";
import type { SecretVersion } from "../../domain/secrets/model.js";

/** The attributes every vault object version has, with ISO times as the admin API writes them. */
function attributesView(o: VersionedObject) {
  return {
    name: o.name,
    version: o.version,
    enabled: o.enabled,
    ...(o.notBefore !== undefined && { notBefore: o.notBefore.toISOString() }),
    ...(o.expiresAt !== undefined && { expiresAt: o.expiresAt.toISOString() }),
    tags: o.tags,
    managed: o.managed,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
  };
}

export const certificateItemView = (c: CertificateVersion) => ({
  ...attributesView(c),
  contentType: c.contentType,
  thumbprint: c.thumbprint.toString("hex"),
  ...(c.revocation && {
    revokedAt: c.revocation.revokedAt.toISOString(),
    revocationReason: c.revocation.reason,
  }),
});

/** A key as Key Vault types it: `RSA-HSM` for an RSA key an HSM holds. */
export const keyItemView = (k: KeyVersion) => ({
  ...attributesView(k),
  keyType: k.protection === "hsm" ? `${k.kind}-HSM` : k.kind,
  ...(k.keySize !== undefined && { keySize: k.keySize }),
  ...(k.curve !== undefined && { curve: k.curve }),
  keyOps: k.keyOps,
  exportable: k.exportable,
});

/** A secret's metadata: its value is only ever in a reveal's answer. */
export const secretItemView = (s: SecretVersion) => ({
  ...attributesView(s),
  ...(s.contentType !== undefined && { contentType: s.contentType }),
});

/** Where a new version's operation stands: the version once made, or why not yet, or why never. */
export const operationView = (o: CertificateOperation) => ({
  status: o.status,
  ...(o.targetVersion !== undefined && { version: o.targetVersion }),
  ...(o.statusDetails !== undefined && { statusDetails: o.statusDetails }),
  ...(o.error !== undefined && { error: o.error }),
});
