import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assignRole, createPrincipal } from "../support/access.js";
import { runCliAsync } from "../support/cli.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";

describe("strongroom discovery vault", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  let remote: InProcess;
  let reader: { id: string; clientId: string; clientSecret: string };
  let sha256: string;
  const run = (...args: string[]) =>
    runCliAsync([...args, "--data-dir", file("data"), "--log-level", "silent"]);
  const addArgs = (name: string, secretFile: string) => [
    "discovery",
    "vault",
    "add",
    name,
    "--url",
    `https://localhost:${remote.strongroom.port}`,
    "--tenant-id",
    remote.strongroom.admin.tenantId,
    "--client-id",
    reader.clientId,
    "--authority-host",
    remote.strongroom.admin.authorityHost,
    "--ca-file",
    remote.strongroom.admin.caFile as string,
    "--client-secret-file",
    secretFile,
    "--disable-challenge-resource-verification",
  ];

  beforeAll(async () => {
    remote = await startInProcess();
    const created = await remote.kv({
      method: "POST",
      url: `/certificates/cli-cert/create?${V}`,
      body: { policy: { issuer: { name: "Self" }, x509_props: { subject: "CN=cli.example" } } },
    });
    expect(created.statusCode).toBe(202);
    for (let i = 0; i < 100; i++) {
      const pending = (await remote.kv({ method: "GET", url: `/certificates/cli-cert/pending?${V}` })).json();
      if (pending.status !== "inProgress") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cer = (await remote.kv({ method: "GET", url: `/certificates/cli-cert?${V}` })).json().cer;
    sha256 = createHash("sha256").update(Buffer.from(cer, "base64")).digest("hex");
    reader = await createPrincipal(remote, "cli-reader");
    await assignRole(remote, reader.id, "Key Vault Reader", "/vaults/default");
    writeFileSync(file("secret.txt"), `${reader.clientSecret}\n`, { mode: 0o600 });
    writeFileSync(file("wrong.txt"), "not-the-secret\n", { mode: 0o600 });
  }, 60_000);
  afterAll(async () => {
    await remote?.stop();
    data.remove();
  });

  it("adds a remote vault, reads it into the inventory at once and lists it without its secret", async () => {
    const added = await run(...addArgs("cli-remote", file("secret.txt")), "--sync");
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain("cli-remote\tok\t1 certificates\t0 gone");
    const listed = await run("discovery", "vault", "list", "--json");
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain(reader.clientSecret);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      {
        name: "cli-remote",
        kind: "azure-key-vault",
        secretFields: ["clientSecret"],
        lastSync: { status: "ok" },
      },
    ]);
    const inventory = await run("inventory", "list", "--source", "akv", "--json");
    expect(inventory.code, inventory.stderr).toBe(0);
    expect(
      JSON.parse(inventory.stdout).value.map((i: { fingerprintSha256: string }) => i.fingerprintSha256),
    ).toEqual([sha256]);
  });

  it("syncs every remote vault", async () => {
    const synced = await run("discovery", "vault", "sync");
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toBe("cli-remote\tok\t1 certificates\t0 gone\n");
  });

  it("refuses a wrong secret and an unreadable secret file with one line each", async () => {
    const wrong = await run(...addArgs("cli-wrong", file("wrong.txt")));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the credential/);
    expect(wrong.stderr.trim().split("\n")[0]).not.toMatch(/^\s+at /);
    const missing = await run(...addArgs("cli-missing", file("no-such-file")));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--client-secret-file .*no-such-file cannot be read: ENOENT/);
  });

  it("removes a remote vault, and its certificate's location is then gone", async () => {
    const removed = await run("discovery", "vault", "remove", "cli-remote");
    expect(removed.code, removed.stderr).toBe(0);
    expect((await run("discovery", "vault", "list")).stdout).toBe("");
    const shown = await run("inventory", "show", sha256, "--json");
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).locations).toEqual([
      expect.objectContaining({ source: "akv", goneAt: expect.any(String) }),
    ]);
  });
});
