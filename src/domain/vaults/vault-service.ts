import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { objectEvent } from "../events/model.js";
import { isVaultName, newId } from "../ids.js";
import { noPeers, type Peers } from "../peers.js";
import { DEFAULT_VAULT_SETTINGS, type Vault, type VaultSettings } from "./model.js";
import type { VaultStore } from "./ports.js";

export interface VaultServiceDeps {
  store: VaultStore;
  clock: Clock;
  /**
   * Checks run before a vault is removed; each may name a reason to refuse, such as key material
   * held outside the database that only purging its keys destroys.
   */
  removalGuards?: ReadonlyArray<(vault: Vault) => Promise<string | undefined>>;
  /**
   * How long a looked-up vault may be reused: every data-plane request looks its vault up. Changes
   * made here are seen at once; changes by other processes within this time.
   */
  cacheMs?: number;
  /** Other workers of this server, told of every change so they look the vault up again. */
  peers?: Peers;
}

export type VaultService = ReturnType<typeof createVaultService>;

function validateSettings(settings: VaultSettings): void {
  const days = settings.softDeleteRetentionDays;
  if (!Number.isInteger(days) || days < 7 || days > 90) {
    throw badParameter(`softDeleteRetentionDays must be an integer from 7 to 90, got ${String(days)}`);
  }
  if (
    !Number.isInteger(settings.nearExpiryDays) ||
    settings.nearExpiryDays < 1 ||
    settings.nearExpiryDays > 365
  ) {
    throw badParameter(
      `nearExpiryDays must be an integer from 1 to 365, got ${String(settings.nearExpiryDays)}`,
    );
  }
  if (settings.sku !== "standard" && settings.sku !== "premium") {
    throw badParameter(`sku must be "standard" or "premium", got "${String(settings.sku)}"`);
  }
}

export function createVaultService({
  store,
  clock,
  removalGuards = [],
  cacheMs = 2000,
  peers = noPeers,
}: VaultServiceDeps) {
  const cache = new Map<string, { vault: Vault | undefined; until: number }>();
  peers.onChange((change) => {
    if (change.kind === "vault") cache.delete(change.name);
  });

  /** Drops the cached lookup here and in the other workers; resolves once they all have. */
  async function forget(name: string): Promise<void> {
    cache.delete(name);
    await peers.announce({ kind: "vault", name });
  }

  /** The vault as looked up in the last `cacheMs`, without waiting; undefined when not cached. */
  function cachedFind(name: string): { vault: Vault | undefined } | undefined {
    const hit = cache.get(name.toLowerCase());
    return hit && hit.until > clock.now().getTime() ? hit : undefined;
  }

  async function find(name: string): Promise<Vault | undefined> {
    const hit = cachedFind(name);
    if (hit) return hit.vault;
    const key = name.toLowerCase();
    const now = clock.now().getTime();
    const vault = await store.findByName(key);
    cache.set(key, { vault, until: now + cacheMs });
    return vault;
  }

  async function get(name: string): Promise<Vault> {
    const vault = await find(name);
    if (!vault)
      throw new DomainError("NotFound", `Vault ${name} does not exist`, { reason: "VaultNotFound" });
    return vault;
  }

  return {
    get,
    find,
    cachedFind,
    list: () => store.list(),

    async create(name: string, settings: Partial<VaultSettings> = {}): Promise<Vault> {
      if (!isVaultName(name)) {
        throw badParameter(
          `Vault name "${name}" is invalid: use 3-24 letters, digits and single hyphens, starting with a letter`,
        );
      }
      const merged: VaultSettings = { ...DEFAULT_VAULT_SETTINGS, ...settings };
      validateSettings(merged);
      const now = clock.now();
      const vault: Vault = {
        id: newId(),
        name: name.toLowerCase(),
        ...merged,
        createdAt: now,
        updatedAt: now,
      };
      await store.insert(vault);
      await forget(vault.name);
      return vault;
    },

    async update(name: string, changes: Partial<VaultSettings>): Promise<Vault> {
      const vault = await get(name);
      if (vault.purgeProtection && changes.purgeProtection === false) {
        throw badParameter(`Purge protection is on for vault ${name} and can never be turned off`);
      }
      const next: Vault = { ...vault, ...changes, updatedAt: clock.now() };
      validateSettings(next);
      await store.update(next);
      await forget(next.name);
      return next;
    },

    async remove(name: string): Promise<void> {
      const vault = await get(name);
      if (vault.purgeProtection) {
        throw new DomainError(
          "Forbidden",
          `Vault ${name} has purge protection on; it cannot be deleted while it may hold recoverable objects`,
        );
      }
      for (const guard of removalGuards) {
        const reason = await guard(vault);
        if (reason) throw new DomainError("Conflict", `Vault ${name} cannot be deleted yet: ${reason}`);
      }
      // Tells the inventory that every certificate location in the vault is gone.
      const gone = objectEvent("VaultDeleted", vault, "Certificate", { name: "", version: "" }, clock.now());
      await store.remove(vault.id, [gone]);
      await forget(vault.name);
    },
  };
}
