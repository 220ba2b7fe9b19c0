import type { AccessService } from "../access/access-service.js";
import type { PrincipalService } from "../access/principal-service.js";
import { DomainError } from "../errors.js";
import type { Sealer } from "../sealing/ports.js";
import type { VaultService } from "../vaults/vault-service.js";
import type { AdminCredentials } from "./model.js";
import type { CredentialsFile, SettingsStore } from "./ports.js";

export interface BootstrapDeps {
  settings: SettingsStore;
  principals: Pick<PrincipalService, "find" | "create" | "addSecret" | "remove">;
  access: Pick<AccessService, "assignments" | "findRole" | "assign">;
  vaults: Pick<VaultService, "find" | "create">;
  sealer: Sealer;
  credentialsFile: CredentialsFile;
  /** A new ES256 private key as PKCS#8 DER, made only on an installation's first start. */
  generateTokenKey: () => Buffer;
}

/** The URLs and tenant that admin.json carries besides the client id and secret. */
export type AdminUrls = Omit<AdminCredentials, "clientId" | "clientSecret">;

export type BootstrapService = ReturnType<typeof createBootstrapService>;

/** The client id of the installation's one bootstrap administrator, shared by every node. */
const ADMIN_SETTING = "bootstrap-admin";
const ADMIN_NAME = "strongroom-admin";
const TOKEN_KEY_SETTING = "token-signing-key";
/**
 * Where the PKI listener is reached, as the last server start saw it. Commands run beside the server
 * bake it into AIA, CDP and IDP: a CRL whose IDP differs from its certificates' CDP is refused by
 * relying parties ("different CRL scope").
 */
const PKI_BASE_SETTING = "pki-base-url";
const ADMIN_ROLES = ["Key Vault Administrator", "Strongroom Administrator"];

const isDomain = (error: unknown, code: DomainError["code"]) =>
  error instanceof DomainError && error.code === code;

/**
 * What a first start creates and every start checks: the default vault, the token signing key and
 * the bootstrap administrator. Nodes sharing one database may run it at the same time.
 */
export function createBootstrapService(deps: BootstrapDeps) {
  const { settings, principals, access, vaults, sealer, credentialsFile } = deps;

  /**
   * Only "not found" may lead to a new administrator: reading a lost connection or a locked database
   * as "missing" would mint a second administrator on every storage hiccup at start.
   */
  async function adminExists(clientId: string): Promise<boolean> {
    try {
      await principals.find(clientId);
      return true;
    } catch (error) {
      if (isDomain(error, "NotFound")) return false;
      throw new DomainError(
        "Unavailable",
        `Could not read the administrator principal ${clientId} from the database (${(error as Error).message}); nothing was changed, start again once the database answers`,
        { cause: error },
      );
    }
  }

  async function readSetting(key: string) {
    try {
      return await settings.get(key);
    } catch (error) {
      throw new DomainError(
        "Unavailable",
        `Could not read setting ${key} from the database (${(error as Error).message}); start again once the database answers`,
        { cause: error },
      );
    }
  }

  /** A fresh secret of an administrator made by another node or an earlier start, for this node's file. */
  async function joinAdmin(clientId: string, urls: AdminUrls): Promise<AdminCredentials> {
    const { clientSecret } = await principals.addSecret(clientId);
    return { ...urls, clientId, clientSecret };
  }

  /** Creates the administrator unless another node records its own first; the loser's is removed. */
  async function createAdmin(
    urls: AdminUrls,
    replacing: boolean,
  ): Promise<{ credentials: AdminCredentials; created: boolean }> {
    const { principal, clientSecret } = await principals.create(ADMIN_NAME);
    if (clientSecret === undefined)
      throw new Error("the administrator principal was created without a secret");
    const recorded = replacing
      ? (await settings.put(ADMIN_SETTING, principal.clientId), principal.clientId)
      : (await settings.putIfAbsent(ADMIN_SETTING, principal.clientId)).value;
    if (recorded === principal.clientId)
      return { credentials: { ...urls, clientId: principal.clientId, clientSecret }, created: true };
    await principals.remove(principal.id);
    return { credentials: await joinAdmin(recorded, urls), created: false };
  }

  async function adminCredentials(
    urls: AdminUrls,
  ): Promise<{ credentials: AdminCredentials; created: boolean }> {
    const saved = credentialsFile.read();
    const recorded = await readSetting(ADMIN_SETTING);
    if (saved && saved.tenantId === urls.tenantId && (await adminExists(saved.clientId))) {
      // Installations from before the administrator was recorded in the database.
      if (!recorded) await settings.putIfAbsent(ADMIN_SETTING, saved.clientId);
      return { credentials: { ...saved, ...urls }, created: false };
    }
    if (recorded && (await adminExists(recorded.value)))
      return { credentials: await joinAdmin(recorded.value, urls), created: false };
    return createAdmin(urls, recorded !== undefined);
  }

  /**
   * The administrator keeps every right: all data actions everywhere and the admin API. Checked on
   * every start so installations made before role assignments existed get them too.
   */
  async function ensureAdminRoles(clientId: string): Promise<void> {
    const { principal } = await principals.find(clientId);
    const held = await access.assignments(principal.id);
    for (const role of ADMIN_ROLES) {
      const { id } = await access.findRole(role);
      if (held.some((a) => a.roleId === id && a.scope === "/")) continue;
      try {
        await access.assign(principal.id, id, "/");
      } catch (error) {
        // Another node sharing the database assigned it first.
        if (!isDomain(error, "Conflict")) throw error;
      }
    }
  }

  return {
    async ensureDefaultVault(): Promise<void> {
      if (await vaults.find("default")) return;
      try {
        await vaults.create("default");
      } catch (error) {
        // Another node sharing the database created it first.
        if (!isDomain(error, "Conflict")) throw error;
      }
    },

    /** The installation's token signing key (PKCS#8), made and stored sealed on first start. */
    async tokenSigningKey(): Promise<Buffer> {
      const context = `settings/${TOKEN_KEY_SETTING}`;
      const stored = await settings.putIfAbsent(
        TOKEN_KEY_SETTING,
        "ES256 PKCS#8, sealed",
        sealer.seal(deps.generateTokenKey(), context),
      );
      if (!stored.sealed) throw new Error("The token signing key setting holds no sealed key");
      return sealer.open(stored.sealed, context);
    },

    /** The PKI base URL the installation's server last served at, when it has started once. */
    async pkiBaseUrl(): Promise<string | undefined> {
      return (await readSetting(PKI_BASE_SETTING))?.value;
    },

    /** Records where this server's PKI listener is reached, for every other process to use. */
    async recordPkiBaseUrl(url: string): Promise<void> {
      await settings.put(PKI_BASE_SETTING, url);
    },

    /**
     * The bootstrap administrator with its roles, and this node's admin.json. The file is written
     * last, so a start that fails before leaves none and the next start completes the install.
     */
    async ensureAdmin(urls: AdminUrls): Promise<{ credentials: AdminCredentials; created: boolean }> {
      const result = await adminCredentials(urls);
      await ensureAdminRoles(result.credentials.clientId);
      credentialsFile.write(result.credentials);
      return result;
    },
  };
}
