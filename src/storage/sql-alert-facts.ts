import { sql } from "kysely";
import type { AlertFacts, CertificateInUse } from "../domain/alerts/ports.js";
import type { StorageHandle } from "./database.js";
import { hex, openFindingRows } from "./sql-findings.js";

/** Sources whose locations mean "in use"; `ca://` only records that a CA issued the certificate. */
const IN_USE_SOURCES = ["vault", "akv", "tls", "file"];
/** Sources whose location URIs end in a version: only a name's newest version is in use. */
const VERSIONED = new Set(["vault", "akv"]);
const CHUNK = 200;

const versionPrefix = (uri: string) => uri.slice(0, uri.lastIndexOf("/") + 1);
const vaultOf = (uri: string) => /^vault:\/\/([^/]+)\//.exec(uri)?.[1];
const caOf = (uri: string) => {
  const name = /^ca:\/\/([^/]+)\//.exec(uri)?.[1];
  return name === undefined ? undefined : decodeURIComponent(name);
};

/** The facts alert conditions are computed from, read from the inventory, outbox and agent tables. */
export function createSqlAlertFacts({ db }: Pick<StorageHandle, "db">): AlertFacts {
  /** Certificates by fingerprint: subject, expiry, owner contact. */
  async function certificates(fingerprints: string[]) {
    const out = new Map<string, { subject: string; notAfter: Date; ownerContact?: string | undefined }>();
    for (let i = 0; i < fingerprints.length; i += CHUNK) {
      const rows = await db
        .selectFrom("inventory_certificates")
        .select(["sha256", "subject", "not_after", "owner_contact"])
        .where(
          "sha256",
          "in",
          fingerprints.slice(i, i + CHUNK).map((f) => Buffer.from(f, "hex")),
        )
        .execute();
      for (const r of rows)
        out.set(hex(r.sha256), {
          subject: r.subject,
          notAfter: new Date(Number(r.not_after)),
          ownerContact: r.owner_contact ?? undefined,
        });
    }
    return out;
  }

  return {
    async certificatesInUse(before) {
      const rows = await db
        .selectFrom("inventory_certificates as c")
        .innerJoin("inventory_locations as l", "l.cert_id", "c.id")
        .select([
          "c.sha256",
          "c.subject",
          "c.not_after",
          "c.owner_contact",
          "l.uri",
          "l.source",
          "l.first_seen_at",
        ])
        .where("c.not_after", "<", before.getTime())
        .where("l.gone_at", "is", null)
        .where("l.source", "in", [...IN_USE_SOURCES, "ca"])
        .execute();
      // A vault keeps every version of a certificate; the newest one of a name supersedes the rest.
      const prefixes = [
        ...new Set(rows.filter((r) => VERSIONED.has(r.source)).map((r) => versionPrefix(r.uri))),
      ];
      const newest = new Map<string, number>();
      for (let i = 0; i < prefixes.length; i += CHUNK) {
        const part = prefixes.slice(i, i + CHUNK);
        const found = await db
          .selectFrom("inventory_locations")
          .select(["uri", "first_seen_at"])
          .where("gone_at", "is", null)
          .where((eb) => eb.or(part.map((p) => eb.and([eb("uri", ">=", p), eb("uri", "<", `${p}\uffff`)]))))
          .execute();
        for (const f of found) {
          const p = versionPrefix(f.uri);
          newest.set(p, Math.max(newest.get(p) ?? 0, Number(f.first_seen_at)));
        }
      }
      const byCert = new Map<string, CertificateInUse>();
      const issuedBy = new Map<string, string>();
      for (const r of rows) {
        if (r.source !== "ca") continue;
        const ca = caOf(r.uri);
        if (ca) issuedBy.set(hex(r.sha256), ca);
      }
      for (const r of rows) {
        if (r.source === "ca") continue;
        if (VERSIONED.has(r.source) && Number(r.first_seen_at) < (newest.get(versionPrefix(r.uri)) ?? 0))
          continue;
        const fingerprint = hex(r.sha256);
        const entry = byCert.get(fingerprint) ?? {
          fingerprint,
          subject: r.subject,
          notAfter: new Date(Number(r.not_after)),
          locations: [],
          ownerContact: r.owner_contact ?? undefined,
        };
        entry.locations.push(r.uri);
        entry.vaultName ??= vaultOf(r.uri);
        entry.caName ??= issuedBy.get(fingerprint);
        byCert.set(fingerprint, entry);
      }
      return [...byCert.values()];
    },

    async changedLocations(since) {
      // Recorded by the inventory's upsert whichever source saw the change; a change still holds
      // while the location is not gone (a later change moves changed_at on).
      const rows = await db
        .selectFrom("inventory_locations as l")
        .innerJoin("inventory_certificates as c", "c.id", "l.cert_id")
        .innerJoin("inventory_certificates as p", "p.id", "l.previous_cert_id")
        .select([
          "l.uri",
          "l.changed_at",
          "c.sha256",
          "c.subject",
          "c.not_after",
          "c.owner_contact",
          "p.sha256 as previous_sha256",
        ])
        .where("l.changed_at", ">=", since.getTime())
        .where("l.gone_at", "is", null)
        .orderBy("l.changed_at")
        .execute();
      return rows.map((r) => ({
        location: r.uri,
        fingerprint: hex(r.sha256),
        previousFingerprint: hex(r.previous_sha256),
        subject: r.subject,
        notAfter: new Date(Number(r.not_after)),
        changedAt: new Date(Number(r.changed_at)),
        ownerContact: r.owner_contact ?? undefined,
      }));
    },

    async failedRenewals() {
      const renewalEvents = ["CertificateRenewalFailed", "CertificateNewVersionCreated"];
      const latest = db
        .selectFrom("events")
        .select(["vault_id", "object_name"])
        .select((eb) => eb.fn.max("seq").as("seq"))
        .where("type", "in", renewalEvents)
        .groupBy(["vault_id", "object_name"])
        .as("m");
      const rows = await db
        .selectFrom("events as e")
        .innerJoin(latest, "m.seq", "e.seq")
        .innerJoin("objects as o", (j) =>
          j
            .onRef("o.vault_id", "=", "e.vault_id")
            .on("o.collection", "=", "certificates")
            .on(sql<boolean>`o.name_key = lower(e.object_name)`),
        )
        .select(["e.vault_name", "e.object_name", "e.version", "e.detail"])
        .where("e.type", "=", "CertificateRenewalFailed")
        .where("o.deleted_at", "is", null)
        .execute();
      const out = [];
      for (const r of rows) {
        const uri = `vault://${r.vault_name}/certificates/${r.object_name.toLowerCase()}/${r.version}`;
        const cert = await db
          .selectFrom("inventory_locations as l")
          .innerJoin("inventory_certificates as c", "c.id", "l.cert_id")
          .select(["c.sha256", "c.subject", "c.not_after", "c.owner_contact"])
          .where("l.uri", "=", uri)
          .executeTakeFirst();
        out.push({
          vaultName: r.vault_name,
          name: r.object_name,
          detail: r.detail ?? "no detail",
          fingerprint: cert && hex(cert.sha256),
          subject: cert?.subject,
          notAfter: cert && new Date(Number(cert.not_after)),
          ownerContact: cert?.owner_contact ?? undefined,
        });
      }
      return out;
    },

    async silentAgents(before) {
      const rows = await db
        .selectFrom("discovery_agents")
        .select(["name", "last_seen_at"])
        .where("registered_at", "is not", null)
        .where((eb) => eb(eb.fn.coalesce("last_seen_at", "registered_at"), "<", before.getTime()))
        .execute();
      return rows.map((r) => ({
        name: r.name,
        lastSeenAt: r.last_seen_at === null ? undefined : new Date(Number(r.last_seen_at)),
      }));
    },

    async failedDeliveries() {
      const syncs = await db
        .selectFrom("agent_syncs as s")
        .innerJoin("discovery_agents as a", "a.id", "s.agent_id")
        .select(["a.name as agent", "s.name", "s.error", "s.version", "s.failed_since"])
        .where("s.state", "=", "failed")
        .execute();
      const pushes = await db
        .selectFrom("push_targets")
        .select(["name", "error", "version", "failed_since", "vault_name"])
        .where("state", "=", "failed")
        .execute();
      const since = (ms: number | null) => (ms === null ? undefined : new Date(Number(ms)));
      return [
        ...syncs.map((r) => ({
          location: `agent://${r.agent}/syncs/${r.name}`,
          what: `sync ${r.name} of agent ${r.agent}`,
          error: r.error ?? "",
          version: r.version ?? undefined,
          failedSince: since(r.failed_since),
        })),
        ...pushes.map((r) => ({
          location: `push://${r.name}`,
          what: `push target ${r.name}`,
          error: r.error ?? "",
          version: r.version ?? undefined,
          failedSince: since(r.failed_since),
          vaultName: r.vault_name,
        })),
      ];
    },

    async openFindings() {
      const rows = await openFindingRows(db);
      if (!rows) return undefined;
      const certs = await certificates([...new Set(rows.map((r) => r.fingerprint))]);
      return rows.map((r) => {
        const cert = certs.get(r.fingerprint);
        return {
          ...r,
          subject: cert?.subject ?? r.fingerprint,
          notAfter: cert?.notAfter,
          ownerContact: cert?.ownerContact,
        };
      });
    },
  };
}
