import { execFile } from "node:child_process";
import type { SyncSpec } from "./config.js";
import { deliver, ownersAndModes, rollBack, unchanged } from "./files.js";
import { presents } from "./health.js";
import { type Material, materialFromSecret, render } from "./material.js";

/** The certificate's secret, as Key Vault's GET secret answers it. */
export interface CertificateSecret {
  id: string;
  value: string;
  contentType?: string | undefined;
}

export type SyncOutcome =
  | { status: "unchanged" }
  | { status: "delivered"; version: string; serialNumber: string }
  | { status: "failed"; version: string; error: string; rolledBack: boolean };

/** Runs the reload command; the error says what it printed when it exits non-zero. */
export function runCommand(argv: readonly string[]): Promise<string | undefined> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve(error ? `${argv.join(" ")} failed: ${error.message} ${stderr || stdout}`.trim() : undefined),
    ),
  );
}

const versionOf = (secret: CertificateSecret) => secret.id.split("/").at(-1) ?? secret.id;

/**
 * One look at the sync's certificate: writes its files when the version in the vault differs from
 * what they hold, reloads, checks the endpoint, and on any failure puts the previous files back and
 * reloads again so the service keeps presenting the certificate it had.
 */
export async function syncOnce(spec: SyncSpec, secret: CertificateSecret): Promise<SyncOutcome> {
  const version = versionOf(secret);
  let material: Material;
  try {
    material = materialFromSecret(secret.value, secret.contentType);
  } catch (error) {
    return { status: "failed", version, error: (error as Error).message, rolledBack: false };
  }
  const outputs = spec.outputs.map((output) => ({ output, content: render(material, output.kind) }));
  if (await unchanged(outputs)) return { status: "unchanged" };
  const before = await ownersAndModes(spec.outputs);
  await deliver(outputs);
  const failure =
    (spec.reload && (await runCommand(spec.reload))) ??
    (spec.healthCheck && (await presents(spec.healthCheck, material.fingerprint)));
  if (!failure) return { status: "delivered", version, serialNumber: material.serialNumber };
  const rolledBack = await rollBack(spec.outputs, before);
  if (rolledBack && spec.reload) {
    const again = await runCommand(spec.reload);
    if (again)
      return { status: "failed", version, error: `${failure}; reload after rollback: ${again}`, rolledBack };
  }
  return { status: "failed", version, error: failure, rolledBack };
}
