import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { createScryptSecretHasher } from "../../src/crypto/scrypt-secret-hasher.js";
import { openCore } from "../../src/main.js";
import { cliWith, runCli } from "../support/cli.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom user", { timeout: 240_000 }, () => {
  const data = tempDataDir();
  const { cli, json } = cliWith(["--data-dir", data.dir, "--log-level", "silent"]);
  const passwordFile = join(data.dir, "alice.password");

  beforeAll(() => {
    writeFileSync(passwordFile, "correct horse battery staple\n", { mode: 0o600 });
  });
  afterAll(() => data.remove());

  /** Whether the password signs the user in, checked against what the command stored. */
  async function verifies(username: string, password: string): Promise<boolean> {
    const core = await openCore(loadConfig({ env: {}, flags: { dataDir: data.dir, logLevel: "silent" } }));
    try {
      const { passwordHash } = await core.users.find(username);
      expect(passwordHash).toMatch(/^scrypt\$/);
      expect(passwordHash).not.toContain(password);
      return createScryptSecretHasher().verify(password, passwordHash as string);
    } finally {
      await core.close();
    }
  }

  it("creates a user with the password from a file, kept only as a scrypt hash", async () => {
    const created = cli("user", "create", "Alice", "--password-file", passwordFile);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^alice\t[0-9a-f-]{36}\tenabled\tpassword\n$/);
    expect(await verifies("alice", "correct horse battery staple")).toBe(true);
  });

  it("takes the password from standard input when no file is given", async () => {
    const created = runCli(
      ["user", "create", "bob", "--data-dir", data.dir, "--log-level", "silent"],
      {},
      "a password piped in here\n",
    );
    expect(created.code, created.stderr).toBe(0);
    expect(await verifies("bob", "a password piped in here")).toBe(true);
  });

  it("lists users as principals of kind user, without their hashes", () => {
    const users = json("user", "list");
    expect(users.map((u: { username: string }) => u.username)).toEqual(["alice", "bob"]);
    expect(JSON.stringify(users)).not.toContain("scrypt");
    const principals = json("principal", "list");
    const alice = principals.find((p: { displayName: string }) => p.displayName === "alice");
    expect(alice.kind).toBe("user");
    expect(users[0].principalId).toBe(alice.id);
  });

  it("gives a user a role like any principal", () => {
    const assigned = cli("role", "assign", "alice", "Strongroom Reader", "/");
    expect(assigned.code, assigned.stderr).toBe(0);
  });

  it("refuses a short password, a taken name and a name it cannot use, saying why", () => {
    writeFileSync(join(data.dir, "short"), "short\n");
    const short = cli("user", "create", "carol", "--password-file", join(data.dir, "short"));
    expect(short.code).not.toBe(0);
    expect(short.stderr).toContain("12 to 1024 characters");
    const taken = cli("user", "create", "ALICE", "--password-file", passwordFile);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain("A user named alice already exists");
    const odd = cli("user", "create", "no spaces please", "--password-file", passwordFile);
    expect(odd.code).not.toBe(0);
    expect(odd.stderr).toContain("is not a user name");
    expect(json("user", "list")).toHaveLength(2);
  });

  it("sets a new password", async () => {
    writeFileSync(join(data.dir, "new"), "an entirely new passphrase\n");
    const set = cli("user", "set-password", "alice", "--password-file", join(data.dir, "new"));
    expect(set.code, set.stderr).toBe(0);
    expect(await verifies("alice", "an entirely new passphrase")).toBe(true);
    expect(await verifies("alice", "correct horse battery staple")).toBe(false);
  });

  it("deletes a user with its principal and role assignments", () => {
    const deleted = cli("user", "delete", "alice");
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(json("user", "list").map((u: { username: string }) => u.username)).toEqual(["bob"]);
    expect(json("principal", "list").some((p: { displayName: string }) => p.displayName === "alice")).toBe(
      false,
    );
    const again = cli("user", "delete", "alice");
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("No user is named alice");
  });
});
