import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import type { Command } from "commander";
import { badParameter } from "../domain/errors.js";
import type { LocalUser } from "../domain/sign-in/model.js";
import { jsonOption, printJson, withCore } from "./program.js";

const userLine = (u: LocalUser) =>
  `${u.username}\t${u.principal.id}\t${u.principal.enabled ? "enabled" : "disabled"}\t${
    u.passwordHash ? "password" : "single sign-on only"
  }`;

/** A user as `user list --json` prints it: never the password hash. */
const userDocument = (u: LocalUser) => ({
  username: u.username,
  principalId: u.principal.id,
  clientId: u.principal.clientId,
  enabled: u.principal.enabled,
  password: u.passwordHash !== undefined,
  passwordChangedAt: u.passwordChangedAt ?? null,
  createdAt: u.createdAt,
});

/** One line typed at a terminal without echo, or the first line piped in. */
async function readLine(prompt: string): Promise<string> {
  const tty = process.stdin.isTTY === true;
  const muted = new Writable({
    write: (_chunk, _encoding, done) => done(),
  });
  if (tty) process.stderr.write(prompt);
  const lines = createInterface({ input: process.stdin, output: tty ? muted : undefined, terminal: tty });
  try {
    for await (const line of lines) return line;
    throw badParameter("No password was given: pass --password-file or type it at the prompt");
  } finally {
    lines.close();
    if (tty) process.stderr.write("\n");
  }
}

/**
 * The password from --password-file (its first line), else asked for twice at a terminal, else the
 * first line of standard input. Never an argument: arguments show in `ps` and shell history.
 */
async function password(file: string | undefined): Promise<string> {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw badParameter(`Cannot read the password file ${file}: ${(error as Error).message}`);
    }
    return text.split(/\r?\n/, 1)[0] ?? "";
  }
  const first = await readLine("Password: ");
  if (process.stdin.isTTY && first !== (await readLine("Password again: "))) {
    throw badParameter("The two passwords differ");
  }
  return first;
}

/** `strongroom user create|list|delete|set-password`: local users of the dashboard. */
export function registerUserCommands(program: Command): void {
  const user = program
    .command("user")
    .description("create, list and delete dashboard users and set their passwords");

  user
    .command("create")
    .argument("<name>", "the sign-in name")
    .option("--password-file <file>", "read the password from the file's first line")
    .option("--no-password", "a user who signs in only through single sign-on")
    .description(
      "create a user (a principal of kind user; give it a role with `role assign`); the password is kept only as a scrypt hash",
    )
    .action((name: string, o: { passwordFile?: string; password: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const secret = o.password ? await password(o.passwordFile) : undefined;
        const created = await core.users.create(name, secret);
        console.log(userLine(created));
      }),
    );

  jsonOption(user.command("list"))
    .description("list users: name, principal id, state, how they sign in")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const all = await core.users.list();
        if (o.json) return printJson(all.map(userDocument));
        for (const u of all) console.log(userLine(u));
      }),
    );

  user
    .command("set-password")
    .argument("<name>")
    .option("--password-file <file>", "read the password from the file's first line")
    .description("replace a user's password; the user's open sessions end")
    .action((name: string, o: { passwordFile?: string }, command: Command) =>
      withCore(command, async (core) => {
        console.log(userLine(await core.users.setPassword(name, await password(o.passwordFile))));
      }),
    );

  user
    .command("delete")
    .argument("<name>")
    .description("delete a user with its role assignments and sessions")
    .action((name: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.users.remove(name);
        console.log(`User ${name} deleted`);
      }),
    );
}
