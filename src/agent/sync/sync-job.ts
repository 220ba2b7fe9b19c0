import { execFile } from "node:child_process";
import type { SyncOutput, SyncSpec } from "./config.js";
import { deliver, markerPath, ownersAndModes, type Rendered, rollBack, unchanged } from "./files.js";
import { presents } from "./health.js";
import { renderKeystore } from "./keystores.js";
import { type Material, materialFromSecret, render } from "./material.js";

/** The certificate's secret, as Key Vault's GET secret answers it. */
export interface CertificateSecret {
  id: string;
  value: string;
  contentType?: string | undefined;
}

export type SyncOutcome =
  | { status: "unchanged"; version: string }
  | { status: "delivered"; version: string; serialNumber: string; certificates: Uint8Array[] }
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

export const versionOf = (secret: CertificateSecret) => secret.id.split("/").at(-1) ?? secret.id;

/**
 * The files of a delivery: PEM outputs as they will read, and for each keystore the marker of the
 * certificate it holds. Keystores themselves are made only when something changed.
 */
function plan(spec: SyncSpec, material: Material) {
  const text: Rendered[] = [];
  const keystores: SyncOutput[] = [];
  for (const output of spec.outputs) {
    if (output.kind === "pkcs12" || output.kind === "jks") {
      keystores.push(output);
      const marker = { kind: "cert" as const, path: markerPath(output.path), mode: 0o644 };
      text.push({
        output: { ...marker, uid: output.uid, gid: output.gid },
        content: `${material.fingerprint}\n`,
      });
    } else text.push({ output, content: render(material, output.kind) });
  }
  return { text, keystores };
}

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
  const { text, keystores } = plan(spec, material);
  if (
    await unchanged(
      text,
      keystores.map((k) => k.path),
    )
  )
    return { status: "unchanged", version };
  const outputs = [
    ...text,
    ...(await Promise.all(
      keystores.map(async (output) => ({ output, content: await renderKeystore(material, output) })),
    )),
  ];
  const written = outputs.map((o) => o.output);
  const before = await ownersAndModes(written);
  await deliver(outputs);
  const failure =
    (spec.reload && (await runCommand(spec.reload))) ??
    (spec.healthCheck && (await presents(spec.healthCheck, material.fingerprint)));
  if (!failure)
    return {
      status: "delivered",
      version,
      serialNumber: material.serialNumber,
      certificates: material.certificates,
    };
  const rolledBack = await rollBack(written, before);
  if (rolledBack && spec.reload) {
    const again = await runCommand(spec.reload);
    if (again)
      return { status: "failed", version, error: `${failure}; reload after rollback: ${again}`, rolledBack };
  }
  return { status: "failed", version, error: failure, rolledBack };
}
