import type {
  ClientCertificateRecord,
  ClientSecretRecord,
  FederatedCredential,
  Principal,
  PrincipalKind,
} from "../domain/access/model.js";
import type { PrincipalCredentials, PrincipalStore } from "../domain/access/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { fromBool, fromDate, isUniqueViolation, toBool, toDate, writeTransaction } from "./transactions.js";

/** A principals row as the domain's Principal; the access store reads the same rows. */
export const toPrincipal = (r: Database["principals"]): Principal => ({
  id: r.id,
  clientId: r.client_id,
  displayName: r.display_name,
  kind: r.kind as PrincipalKind,
  enabled: toBool(r.enabled),
  createdAt: new Date(r.created_at),
});

/** A Principal as its principals row; the user store writes the same rows. */
export const principalRow = (p: Principal): Database["principals"] => ({
  id: p.id,
  client_id: p.clientId,
  display_name: p.displayName,
  kind: p.kind,
  enabled: fromBool(p.enabled),
  created_at: p.createdAt.getTime(),
});

const toSecret = (r: Database["client_secrets"]): ClientSecretRecord => ({
  id: r.id,
  principalId: r.principal_id,
  hash: r.hash,
  hint: r.hint,
  expiresAt: toDate(r.expires_at),
  createdAt: new Date(r.created_at),
});

const toCertificate = (r: Database["client_certificates"]): ClientCertificateRecord => ({
  id: r.id,
  principalId: r.principal_id,
  thumbprintSha1: r.thumbprint_sha1,
  thumbprintSha256: r.thumbprint_sha256,
  der: Buffer.from(r.der),
  expiresAt: new Date(r.expires_at),
  createdAt: new Date(r.created_at),
});

const toFederated = (r: Database["federated_credentials"]): FederatedCredential => ({
  id: r.id,
  principalId: r.principal_id,
  name: r.name,
  issuer: r.issuer,
  subject: r.subject,
  audiences: JSON.parse(r.audiences) as string[],
  jwks: r.jwks === null ? undefined : (JSON.parse(r.jwks) as { keys: unknown[] }),
  createdAt: new Date(r.created_at),
});

const secretRow = (s: ClientSecretRecord): Database["client_secrets"] => ({
  id: s.id,
  principal_id: s.principalId,
  hash: s.hash,
  hint: s.hint,
  expires_at: fromDate(s.expiresAt),
  created_at: s.createdAt.getTime(),
});

export function createSqlPrincipalStore(storage: StorageHandle): PrincipalStore {
  const { db } = storage;

  async function withCredentials(row: Database["principals"] | undefined) {
    if (!row) return undefined;
    const [secrets, certificates, federated] = await Promise.all([
      db.selectFrom("client_secrets").selectAll().where("principal_id", "=", row.id).execute(),
      db.selectFrom("client_certificates").selectAll().where("principal_id", "=", row.id).execute(),
      db.selectFrom("federated_credentials").selectAll().where("principal_id", "=", row.id).execute(),
    ]);
    return {
      principal: toPrincipal(row),
      secrets: secrets.map(toSecret),
      certificates: certificates.map(toCertificate),
      federated: federated.map(toFederated),
    } satisfies PrincipalCredentials;
  }

  const deleted = (result: { numDeletedRows: bigint }[]) => (result[0]?.numDeletedRows ?? 0n) > 0n;

  return {
    async insert(p, s) {
      await writeTransaction(storage, async (trx) => {
        await trx.insertInto("principals").values(principalRow(p)).execute();
        if (s) await trx.insertInto("client_secrets").values(secretRow(s)).execute();
      });
    },
    async findByClientId(clientId) {
      return withCredentials(
        await db.selectFrom("principals").selectAll().where("client_id", "=", clientId).executeTakeFirst(),
      );
    },
    async findById(id) {
      return withCredentials(
        await db.selectFrom("principals").selectAll().where("id", "=", id).executeTakeFirst(),
      );
    },
    async list() {
      return (await db.selectFrom("principals").selectAll().orderBy("created_at").execute()).map(toPrincipal);
    },
    async update(p) {
      await writeTransaction(storage, (trx) =>
        trx
          .updateTable("principals")
          .set({ display_name: p.displayName, enabled: fromBool(p.enabled) })
          .where("id", "=", p.id)
          .execute(),
      );
    },
    async remove(id) {
      // Foreign keys cascade to credentials, memberships and policies; assignments name the
      // principal too and go with it.
      await writeTransaction(storage, async (trx) => {
        await trx.deleteFrom("role_assignments").where("principal_id", "=", id).execute();
        await trx.deleteFrom("principals").where("id", "=", id).execute();
      });
    },
    async addSecret(s) {
      await writeTransaction(storage, (trx) =>
        trx.insertInto("client_secrets").values(secretRow(s)).execute(),
      );
    },
    async removeSecret(principalId, secretId) {
      return deleted(
        await writeTransaction(storage, (trx) =>
          trx
            .deleteFrom("client_secrets")
            .where("principal_id", "=", principalId)
            .where("id", "=", secretId)
            .execute(),
        ),
      );
    },
    async addCertificate(c) {
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("client_certificates")
          .values({
            id: c.id,
            principal_id: c.principalId,
            thumbprint_sha1: c.thumbprintSha1,
            thumbprint_sha256: c.thumbprintSha256,
            der: c.der,
            expires_at: c.expiresAt.getTime(),
            created_at: c.createdAt.getTime(),
          })
          .execute(),
      );
    },
    async removeCertificate(principalId, certificateId) {
      return deleted(
        await writeTransaction(storage, (trx) =>
          trx
            .deleteFrom("client_certificates")
            .where("principal_id", "=", principalId)
            .where("id", "=", certificateId)
            .execute(),
        ),
      );
    },
    async addFederated(f) {
      try {
        await writeTransaction(storage, (trx) =>
          trx
            .insertInto("federated_credentials")
            .values({
              id: f.id,
              principal_id: f.principalId,
              name: f.name,
              issuer: f.issuer,
              subject: f.subject,
              audiences: JSON.stringify(f.audiences),
              jwks: f.jwks === undefined ? null : JSON.stringify(f.jwks),
              created_at: f.createdAt.getTime(),
            })
            .execute(),
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new DomainError("Conflict", `A federated credential named ${f.name} exists already`);
        }
        throw error;
      }
    },
    async removeFederated(principalId, credentialId) {
      return deleted(
        await writeTransaction(storage, (trx) =>
          trx
            .deleteFrom("federated_credentials")
            .where("principal_id", "=", principalId)
            .where("id", "=", credentialId)
            .execute(),
        ),
      );
    },
  };
}
