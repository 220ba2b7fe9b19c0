import { copyFile, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { SyncOutput } from "./config.js";

/** Where the file as it was before the last delivery is kept, for a rollback. */
export const previousPath = (path: string) => join(dirname(path), `.${basename(path)}.previous`);

/**
 * Beside a keystore, the fingerprint of the certificate it holds. A keystore is encrypted under fresh
 * salts each time it is made, so its bytes cannot tell whether it changed; this file can, without
 * the password or a JVM, on every look.
 */
export const markerPath = (path: string) => join(dirname(path), `.${basename(path)}.sha256`);

/** One file as a delivery writes it. */
export interface Rendered {
  output: SyncOutput;
  content: string | Uint8Array;
}

const readOrUndefined = (path: string) =>
  readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });

const same = (found: Buffer | undefined, content: string | Uint8Array) =>
  found?.equals(typeof content === "string" ? Buffer.from(content) : content) === true;

/** True when every output already holds what would be written and every `present` file exists. */
export async function unchanged(
  outputs: readonly Rendered[],
  present: readonly string[] = [],
): Promise<boolean> {
  for (const { output, content } of outputs) {
    if (!same(await readOrUndefined(output.path), content)) return false;
  }
  for (const path of present) if (!(await stat(path).catch(() => undefined))) return false;
  return true;
}

/**
 * Replaces `path` so that a reader sees the old file or the new one, never a part: a temporary
 * file beside it, with mode and owner set before it holds anything, fsynced, then renamed over it.
 */
async function replaceAtomically(output: SyncOutput, content: string | Uint8Array): Promise<void> {
  const temporary = join(dirname(output.path), `.${basename(output.path)}.${process.pid}.tmp`);
  const handle = await open(temporary, "w", output.mode);
  try {
    await handle.chmod(output.mode);
    if (output.uid !== undefined || output.gid !== undefined)
      await handle.chown(output.uid ?? -1, output.gid ?? -1);
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, output.path);
  const directory = await open(dirname(output.path), "r");
  await directory.sync().finally(() => directory.close());
}

/**
 * Writes the outputs, first keeping each current file as its previous version. A missing directory
 * is made (a tag selector's directory for a newly tagged certificate).
 */
export async function deliver(outputs: readonly Rendered[]): Promise<void> {
  for (const { output } of outputs) {
    await mkdir(dirname(output.path), { recursive: true, mode: 0o755 });
    await copyFile(output.path, previousPath(output.path)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }
  for (const { output, content } of outputs) await replaceAtomically(output, content);
}

/**
 * Puts the previous versions back, with the mode and owner the outputs had then, so a rollback
 * also undoes a permission that broke the server. False when there was no previous version.
 */
export async function rollBack(outputs: readonly SyncOutput[], before: ReadonlyMap<string, OwnerAndMode>) {
  for (const output of outputs) {
    const content = await readOrUndefined(previousPath(output.path));
    if (content === undefined) return false;
    const was = before.get(output.path);
    await replaceAtomically(was ? { ...output, ...was } : output, content);
  }
  return true;
}

export interface OwnerAndMode {
  mode: number;
  uid: number;
  gid: number;
}

/** Each existing output's mode and owner, taken before a delivery changes them. */
export async function ownersAndModes(outputs: readonly SyncOutput[]): Promise<Map<string, OwnerAndMode>> {
  const found = new Map<string, OwnerAndMode>();
  for (const output of outputs) {
    const s = await stat(output.path).catch(() => undefined);
    if (s) found.set(output.path, { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid });
  }
  return found;
}
