import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { Observation, ObservationSink } from "../inventory/observation.js";
import type { Sealer } from "../sealing/ports.js";
import type { RemoteVault, RemoteVaultSync } from "./model.js";
import type { RemoteVaultStore } from "./ports.js";
import type { CertificateBundle, RemoteVaultConnection, RemoteVaultConnector } from "./remote-vault.js";

export interface RemoteVaultInput {
  name: string;
  kind: string;
  url: string;
  settings?: Record<string, string> | undefined;
  secret?: Record<string, string> | undefined;
}

export interface SyncResult {
  name: string;
  sync: RemoteVaultSync;
}

export type RemoteVaultService = ReturnType<typeof createRemoteVaultService>;

const NAME = /^[0-9a-zA-Z][0-9a-zA-Z-]{0,62}$/;
/** Observations go to the inventory in batches of this many, so a vault of any size is read in bounded memory. */
const BATCH = 500;
const MAX_FIELDS = 16;
const MAX_FIELD_CHARS = 16 * 1024;

const notFound = (name: string) =>
  new DomainError("NotFound", `There is no remote vault named ${name}`, { reason: "RemoteVaultNotFound" });

function fields(what: string, record: Record<string, string> | undefined): Record<string, string> {
  const entries = Object.entries(record ?? {});
  if (entries.length > MAX_FIELDS) throw badParameter(`${what} has more than ${MAX_FIELDS} fields`);
  for (const [key, value] of entries) {
    if (typeof value !== "string") throw badParameter(`${what}.${key} must be a string`);
    if (value.length > MAX_FIELD_CHARS)
      throw badParameter(`${what}.${key} is longer than ${MAX_FIELD_CHARS} characters`);
  }
  return Object.fromEntries(entries);
}

/**
 * Remote vaults whose certificates enter the inventory: registered with a URL and a credential
 * (sealed at rest), read by their kind's connector on demand and by the hourly sync job. Each sync
 * reports every certificate it sees and then forgets what the previous sync saw and this one did not.
 */
export function createRemoteVaultService({
  store,
  connectors,
  sink,
  sealer,
  clock,
}: {
  store: RemoteVaultStore;
  connectors: readonly RemoteVaultConnector[];
  sink: ObservationSink;
  sealer: Sealer;
  clock: Clock;
}) {
  const connectorFor = (kind: string) => {
    const connector = connectors.find((c) => c.kind === kind);
    if (!connector)
      throw badParameter(
        `remote vault kind "${kind}" is not supported; supported: ${connectors.map((c) => c.kind).join(", ")}`,
      );
    return connector;
  };
  const context = (id: string) => `remote-vaults/${id}`;
  const connection = (vault: RemoteVault): RemoteVaultConnection => ({
    url: vault.url,
    settings: vault.settings,
    secret: JSON.parse(sealer.open(vault.sealedSecret, context(vault.id)).toString("utf8")) as Record<
      string,
      string
    >,
  });
  const find = async (name: string) => {
    const vault = await store.get(name);
    if (!vault) throw notFound(name);
    return vault;
  };

  /**
   * One sync or removal of a vault at a time in this process, so that a removal never interleaves
   * with a sync's observations (which would bring back the locations it marked gone); a removal
   * aborts the sync in flight rather than wait out a long listing.
   */
  const turns = new Map<string, { done: Promise<unknown>; abort: AbortController }>();
  async function inTurn<T>(
    id: string,
    work: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    for (let turn = turns.get(id); turn; turn = turns.get(id)) await turn.done.catch(() => undefined);
    const abort = new AbortController();
    const done = work(signal ? AbortSignal.any([signal, abort.signal]) : abort.signal);
    turns.set(id, { done, abort });
    try {
      return await done;
    } finally {
      turns.delete(id);
    }
  }

  /** Reads the whole vault into the inventory; nothing is forgotten unless the listing completed. */
  const read = (listed: RemoteVault, signal: AbortSignal): Promise<RemoteVaultSync> =>
    inTurn(
      listed.id,
      async (signal) => {
        // Listed before an earlier turn removed it: there is nothing left to read into.
        const vault = await store.get(listed.name);
        if (vault?.id !== listed.id) throw notFound(listed.name);
        return readNow(vault, signal);
      },
      signal,
    );

  async function readNow(vault: RemoteVault, signal: AbortSignal): Promise<RemoteVaultSync> {
    const connector = connectorFor(vault.kind);
    const at = clock.now();
    const seen = new Set<string>();
    let batch: Observation[] = [];
    try {
      for await (const certificate of connector.certificates(connection(vault), signal)) {
        seen.add(certificate.location);
        batch.push({
          der: certificate.der,
          ...(certificate.chain && { chain: certificate.chain }),
          location: certificate.location,
          source: connector.source,
          seenAt: at,
          detail: { ...certificate.detail, remoteVault: vault.name },
        });
        if (batch.length >= BATCH) {
          await sink.observe(batch);
          batch = [];
        }
      }
      if (batch.length) await sink.observe(batch);
      const gone = (await store.locations(vault.id)).filter((l) => !seen.has(l));
      if (gone.length) await sink.forget(gone, at);
      const sync: RemoteVaultSync = { at, status: "ok", certificates: seen.size, gone: gone.length };
      // Removed meanwhile by another node: what this sync observed must not outlive the vault.
      if (!(await store.recordSync(vault.id, sync, [...seen]))) {
        await sink.forget([...seen], clock.now());
        throw notFound(vault.name);
      }
      return sync;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const sync: RemoteVaultSync = {
        at,
        status: "failed",
        error: message,
        certificates: vault.lastSync?.certificates ?? 0,
        gone: 0,
      };
      await store.recordSync(vault.id, sync);
      throw error;
    }
  }

  return {
    /**
     * Registers a remote vault after one read proves the URL answers and the credential is accepted,
     * so a mistyped URL or a wrong secret is refused here rather than found failing an hour later.
     */
    async add(
      input: RemoteVaultInput,
      signal: AbortSignal = new AbortController().signal,
    ): Promise<RemoteVault> {
      if (!NAME.test(input.name))
        throw badParameter(`"${input.name}" is not a valid name: 1-63 letters, digits and hyphens`);
      const connector = connectorFor(input.kind);
      const candidate: RemoteVaultConnection = {
        url: input.url,
        settings: fields("settings", input.settings),
        secret: fields("secret", input.secret),
      };
      connector.validate(candidate);
      if (await store.get(input.name))
        throw new DomainError("Conflict", `A remote vault named ${input.name} exists`);
      const probe = connector.certificates(candidate, signal)[Symbol.asyncIterator]();
      try {
        await probe.next();
      } catch (error) {
        // At registration an unreachable URL is a mistake in the request, not an outage to wait out.
        if (error instanceof DomainError && error.code === "Unavailable")
          throw new DomainError("BadParameter", error.message, {
            cause: error,
            ...(error.reason && { reason: error.reason }),
          });
        throw error;
      } finally {
        await probe.return?.();
      }
      const id = newId();
      const now = clock.now();
      const vault: RemoteVault = {
        id,
        name: input.name,
        kind: connector.kind,
        url: input.url,
        settings: { ...candidate.settings },
        sealedSecret: sealer.seal(Buffer.from(JSON.stringify(candidate.secret), "utf8"), context(id)),
        secretFields: Object.keys(candidate.secret).sort(),
        createdAt: now,
        updatedAt: now,
      };
      if (!(await store.insert(vault)))
        throw new DomainError("Conflict", `A remote vault named ${input.name} exists`);
      return vault;
    },

    list: () => store.list(),
    get: find,

    /** Unregisters the vault; its certificates' locations are marked gone from the inventory first. */
    async remove(name: string): Promise<void> {
      const vault = await find(name);
      turns.get(vault.id)?.abort.abort(new DomainError("Conflict", `Remote vault ${name} is being removed`));
      await inTurn(vault.id, async () => {
        const locations = await store.locations(vault.id);
        if (locations.length) await sink.forget(locations, clock.now());
        if (!(await store.remove(vault.id))) throw notFound(name);
      });
    },

    async sync(name: string, signal: AbortSignal = new AbortController().signal): Promise<SyncResult> {
      const vault = await find(name);
      return { name: vault.name, sync: await read(vault, signal) };
    },

    /** Imports a certificate and its key into the remote vault with this id; the new version's id. */
    async importCertificate(
      id: string,
      name: string,
      bundle: CertificateBundle,
      signal: AbortSignal,
    ): Promise<string> {
      const vault = (await store.list()).find((v) => v.id === id);
      if (!vault)
        throw new DomainError("NotFound", `No remote vault with id ${id}`, { reason: "RemoteVaultNotFound" });
      return connectorFor(vault.kind).importCertificate(connection(vault), name, bundle, signal);
    },

    /** Syncs every remote vault; one that fails is recorded as failed and does not stop the others. */
    async syncAll(signal: AbortSignal): Promise<SyncResult[]> {
      const results: SyncResult[] = [];
      for (const vault of await store.list()) {
        if (signal.aborted) break;
        try {
          results.push({ name: vault.name, sync: await read(vault, signal) });
        } catch {
          const failed = (await store.get(vault.name))?.lastSync;
          if (failed) results.push({ name: vault.name, sync: failed });
        }
      }
      return results;
    },
  };
}
