import { sleep } from "../../domain/clock.js";
import type { ServerClient } from "../server-client.js";
import type { SyncSpec } from "./config.js";
import { type CertificateSecret, syncOnce } from "./sync-job.js";

/** The Key Vault API version the agent reads secrets with; Azure Key Vault answers it too. */
const API_VERSION = "7.5";
/** The longest wait between tries while the vault cannot be reached. */
const MAX_BACKOFF_MS = 30_000;

/** The certificate's secret through the Key Vault API, as the CSI driver's provider reads it. */
export function secretReader(server: ServerClient) {
  return async (spec: SyncSpec): Promise<CertificateSecret> => {
    const url = `${spec.vaultUrl.replace(/\/+$/, "")}/secrets/${encodeURIComponent(spec.certificate)}?api-version=${API_VERSION}`;
    const secret = await server.call<CertificateSecret>("GET", url);
    if (!secret?.value) throw new Error(`the vault returned no value for ${spec.certificate}`);
    return secret;
  };
}

/** ±20 %, so that a fleet of agents started together does not ask the vault in step. */
const jittered = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

/**
 * Keeps one sync's files in step with its certificate until `signal` aborts. While the vault cannot
 * be reached the files stay as they are and the agent asks again with a doubling backoff; a version
 * whose delivery failed and was rolled back is not tried again until a newer one appears.
 */
export async function keepInSync(
  spec: SyncSpec,
  read: (spec: SyncSpec) => Promise<CertificateSecret>,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<void> {
  let backoffMs = 1000;
  let failedVersion: string | undefined;
  while (!signal.aborted) {
    let secret: CertificateSecret;
    try {
      secret = await read(spec);
    } catch (error) {
      log(
        `sync ${spec.name}: cannot read ${spec.certificate} from ${spec.vaultUrl}: ${(error as Error).message.split("\n")[0]}; trying again in ${backoffMs} ms`,
      );
      await sleep(jittered(backoffMs), signal);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      continue;
    }
    backoffMs = 1000;
    if (secret.id !== failedVersion) {
      const outcome = await syncOnce(spec, secret).catch((error: unknown) => ({
        status: "failed" as const,
        version: secret.id,
        error: (error as Error).message,
        rolledBack: false,
      }));
      if (outcome.status === "delivered")
        log(`sync ${spec.name}: delivered version ${outcome.version} (serial ${outcome.serialNumber})`);
      if (outcome.status === "failed") {
        failedVersion = secret.id;
        log(
          `sync ${spec.name}: delivery of version ${outcome.version} failed: ${outcome.error}${outcome.rolledBack ? "; the previous files are back" : ""}`,
        );
      }
    }
    await sleep(jittered(spec.pollMs), signal);
  }
}
