import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { passwordPfx } from "../../crypto/password-pfx.js";
import type { SyncOutput } from "./config.js";
import type { Material } from "./material.js";

/** The keystore's password: the password file's first line. */
async function passwordOf(output: SyncOutput): Promise<string> {
  const file = output.passwordFile as string;
  const text = await readFile(file, "utf8").catch((error: Error) => {
    throw new Error(`the password file ${file} of ${output.path} cannot be read: ${error.message}`);
  });
  const password = text.split(/\r?\n/, 1)[0] ?? "";
  if (password === "") throw new Error(`the password file ${file} of ${output.path} is empty`);
  return password;
}

const run = (file: string, args: readonly string[]) =>
  new Promise<void>((resolve, reject) =>
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} failed: ${(stderr || stdout || error.message).trim()}`)) : resolve(),
    ),
  );

/**
 * A real JKS keystore, converted from the PKCS#12 by Java's own keytool (a Java keystore is read
 * by Java, so the host that wants one has it). The password never appears on a command line: keytool
 * reads it from the configured file. The PKCS#12 passes through a directory only this user can read.
 */
async function javaKeyStore(pfx: Buffer, output: SyncOutput): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), "strongroom-jks-"));
  try {
    const source = join(dir, "source.p12");
    const target = join(dir, "target.jks");
    await writeFile(source, pfx, { mode: 0o600 });
    const passwordFile = output.passwordFile as string;
    await run("keytool", [
      "-importkeystore",
      "-noprompt",
      "-srckeystore",
      source,
      "-srcstoretype",
      "PKCS12",
      "-srcstorepass:file",
      passwordFile,
      "-destkeystore",
      target,
      "-deststoretype",
      "JKS",
      "-deststorepass:file",
      passwordFile,
      "-destkeypass:file",
      passwordFile,
    ]);
    return await readFile(target);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a `pkcs12` or `jks` output holds: the key, leaf and chain under the output's alias. */
export async function renderKeystore(material: Material, output: SyncOutput): Promise<Buffer> {
  const password = await passwordOf(output);
  const pfx = await passwordPfx(
    material.pkcs8,
    material.certificates,
    password,
    output.alias ?? "certificate",
  );
  return output.kind === "jks" ? javaKeyStore(pfx, output) : pfx;
}
