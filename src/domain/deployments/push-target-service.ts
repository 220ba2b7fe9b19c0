import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { RemoteVault } from "../remote-vaults/model.js";
import type { CertificateBundle } from "../remote-vaults/remote-vault.js";
import type { Vault } from "../vaults/model.js";
import type { DeploymentStatus, PushTarget } from "./model.js";
import type { DeploymentStore } from "./ports.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Key Vault's object names. */
const OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;
/**
 * A target that failed is tried again after this long even without a new version: long enough not
 * to hammer a vault that refuses the credential, short enough that an outage heals by itself.
 */
export const PUSH_RETRY_MS = 60_000;

export interface PushTargetInput {
  name: string;
  /** The vault and certificate whose new versions are pushed; the vault `default` when absent. */
  vault?: string | undefined;
  certificate: string;
  /** The remote vault imported into, by name. */
  remoteVault: string;
  /** The certificate's name there; the same name when absent. */
  targetCertificate?: string | undefined;
}

export interface PushOutcome {
  pushed: number;
  failed: number;
  inSync: number;
}

export type PushTargetService = ReturnType<typeof createPushTargetService>;

/**
 * Push targets: every new version of a vault certificate is imported, with its key, into another
 * Key Vault (Azure Key Vault or another Strongroom, reached as a remote vault with its sealed
 * credential), as a deployment with its own state. `pushDue` compares each target's delivered
 * version with the certificate's newest and imports what is missing, so a version made while a
 * target was failing is delivered once it heals, and a version is never pushed twice.
 */
export function createPushTargetService({
  store,
  vaults,
  certificates,
  secrets,
  remoteVaults,
  clock,
}: {
  store: DeploymentStore;
  vaults: { get(name: string): Promise<Vault> };
  certificates: { get(vault: Vault, name: string): Promise<{ version: string }> };
  secrets: {
    get(
      vault: Vault,
      name: string,
      version: string,
    ): Promise<{ secret: { version: string; contentType?: string | undefined }; value: string }>;
  };
  remoteVaults: {
    get(name: string): Promise<RemoteVault>;
    importCertificate(
      id: string,
      name: string,
      bundle: CertificateBundle,
      signal: AbortSignal,
    ): Promise<string>;
  };
  clock: Clock;
}) {
  async function get(idOrName: string): Promise<PushTarget> {
    const target = await store.findPushTarget(idOrName);
    if (!target)
      throw new DomainError("NotFound", `No push target named ${idOrName}`, { reason: "PushTargetNotFound" });
    return target;
  }

  /**
   * One target: imports the newest version when it is not there yet. The state it ends in, and
   * whether an import was tried (a failed try counts as the last attempt, for the retry delay).
   */
  async function push(
    target: PushTarget,
    signal: AbortSignal,
  ): Promise<{ status: DeploymentStatus; attempted: boolean }> {
    const now = clock.now();
    const failed = (error: string, version = target.version): DeploymentStatus => ({
      ...target,
      state: "failed",
      error,
      version,
      failedSince: target.failedSince ?? now,
    });
    const unreadable = (error: unknown) =>
      failed(`cannot read ${target.certificate} in vault ${target.vaultName}: ${(error as Error).message}`);
    let vault: Vault;
    let version: string;
    // The newest version is compared first: only a version to deliver has its key decrypted.
    try {
      vault = await vaults.get(target.vaultName);
      version = (await certificates.get(vault, target.certificate)).version;
    } catch (error) {
      return { status: unreadable(error), attempted: false };
    }
    if (version === target.deliveredVersion)
      return {
        status: { ...target, state: "in-sync", error: undefined, failedSince: undefined },
        attempted: false,
      };
    const retrying = target.state === "failed" && target.version === version;
    if (retrying && now.getTime() - target.updatedAt.getTime() < PUSH_RETRY_MS)
      return { status: target, attempted: false };
    let current: Awaited<ReturnType<typeof secrets.get>>;
    try {
      current = await secrets.get(vault, target.certificate, version);
    } catch (error) {
      return { status: unreadable(error), attempted: false };
    }
    const contentType =
      current.secret.contentType === "application/x-pem-file"
        ? "application/x-pem-file"
        : "application/x-pkcs12";
    try {
      await remoteVaults.importCertificate(
        target.remoteVaultId,
        target.targetCertificate,
        { value: current.value, contentType },
        signal,
      );
    } catch (error) {
      return { status: failed((error as Error).message, version), attempted: true };
    }
    return {
      status: { state: "in-sync", version, deliveredVersion: version, deliveredAt: clock.now() },
      attempted: true,
    };
  }

  const changed = (a: DeploymentStatus, b: DeploymentStatus) =>
    a.state !== b.state ||
    a.error !== b.error ||
    a.version !== b.version ||
    a.deliveredVersion !== b.deliveredVersion;

  return {
    async create(input: PushTargetInput): Promise<PushTarget> {
      if (!NAME.test(input.name))
        throw badParameter(
          `Push target name "${input.name}" must be 1-63 letters, digits, dots, hyphens or underscores`,
        );
      const targetCertificate = input.targetCertificate ?? input.certificate;
      for (const [what, name] of [
        ["certificate", input.certificate],
        ["targetCertificate", targetCertificate],
      ] as const)
        if (!OBJECT_NAME.test(name))
          throw badParameter(`${what} "${name}" must be 1-127 letters, digits or hyphens`);
      const vault = await vaults.get(input.vault ?? "default");
      const remote = await remoteVaults.get(input.remoteVault);
      const now = clock.now();
      const target: PushTarget = {
        id: newId(),
        name: input.name,
        vaultName: vault.name,
        certificate: input.certificate,
        remoteVaultId: remote.id,
        remoteVaultName: remote.name,
        targetCertificate,
        state: "pending",
        createdAt: now,
        updatedAt: now,
      };
      if (!(await store.insertPushTarget(target)))
        throw new DomainError("Conflict", `A push target named ${input.name} exists already`);
      return target;
    },

    get,
    list: () => store.pushTargets(),

    async remove(idOrName: string): Promise<void> {
      const target = await get(idOrName);
      await store.removePushTarget(target.id);
    },

    /** Pushes every target whose certificate has a version it lacks; one failing does not stop the rest. */
    async pushDue(signal: AbortSignal): Promise<PushOutcome> {
      const outcome: PushOutcome = { pushed: 0, failed: 0, inSync: 0 };
      for (const target of await store.pushTargets()) {
        if (signal.aborted) break;
        const { status: next, attempted } = await push(target, signal);
        if (attempted || changed(target, next)) await store.setPushState(target.id, next, clock.now());
        if (next.state === "failed") outcome.failed++;
        else if (next.deliveredVersion !== target.deliveredVersion) outcome.pushed++;
        else outcome.inSync++;
      }
      return outcome;
    },
  };
}
