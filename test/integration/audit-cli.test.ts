import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, readdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { tempDataDir } from "../support/server-process.js";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");

interface Row {
  seq: number;
  principalId?: string;
  operation: string;
  objectId?: string;
  outcome: string;
  detail?: string;
}

describe("the command line in the audit log", () => {
  const data = tempDataDir();
  const cli = (...args: string[]) => runCli([...args, "--data-dir", data.dir]);
  const rows = (...filters: string[]): Row[] =>
    cli("audit", "export", ...filters)
      .stdout.split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Row);
  const principal = `cli:${userInfo().username}`;
  afterAll(() => data.remove());

  it("records each change a command makes with the CLI's principal, its intent and its outcome", () => {
    expect(cli("vault", "create", "team").code).toBe(0);
    const created = cli("principal", "create", "robot");
    expect(created.code).toBe(0);
    const mine = rows("--principal", principal);
    const vault = mine.filter((r) => r.operation === "strongroom vault create");
    expect(vault.map((r) => [r.objectId, r.outcome])).toEqual([
      ["team", "pending"],
      ["team", "success"],
    ]);
    const robot = mine.filter((r) => r.operation === "strongroom principal create");
    expect(robot.map((r) => r.outcome)).toEqual(["pending", "success"]);
    expect(cli("audit", "verify").stdout).toMatch(/Audit log intact/);
  });

  it("records a refused command as a failure with the reason", () => {
    expect(cli("vault", "create", "team").code).not.toBe(0);
    const failed = rows("--principal", principal, "--outcome", "failure");
    expect(failed.at(-1)).toMatchObject({ operation: "strongroom vault create", objectId: "team" });
    expect(failed.at(-1)?.detail).toMatch(/failed: /);
  });

  it("exports OCSF API Activity events with the actor and the operation", () => {
    const events = cli("audit", "export", "--format", "ocsf", "--principal", principal)
      .stdout.split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const create = events.find(
      (e) =>
        (e.api as { operation: string }).operation === "strongroom vault create" && e.status === "Success",
    );
    expect(create).toMatchObject({
      class_uid: 6003,
      category_uid: 6,
      activity_id: 1,
      type_uid: 600301,
      status_id: 1,
      actor: { user: { uid: principal } },
      resources: [{ uid: "team" }],
    });
  });

  it("follows the log, writing rows as commands commit them", async () => {
    const follower = spawn(process.execPath, [
      CLI,
      "audit",
      "export",
      "--follow",
      "--data-dir",
      data.dir,
      "--since",
      new Date().toISOString(),
    ]);
    let out = "";
    follower.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    try {
      // The follower records nothing until it ends; give it time to open the log.
      await new Promise((r) => setTimeout(r, 1500));
      expect(cli("vault", "create", "followed").code).toBe(0);
      for (let i = 0; i < 100 && !out.includes('"objectId":"followed"'); i++)
        await new Promise((r) => setTimeout(r, 100));
      const followed = out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Row)
        .filter((r) => r.objectId === "followed");
      expect(followed.map((r) => r.outcome)).toEqual(["pending", "success"]);
    } finally {
      follower.kill("SIGTERM");
      await once(follower, "exit");
    }
  });

  it("fails verify against a checkpoint when the database is restored from a copy older than it", () => {
    const files = () =>
      readdirSync(data.dir).filter((f) => f.startsWith("strongroom.") && !f.endsWith(".bak"));
    for (const f of files()) copyFileSync(join(data.dir, f), join(data.dir, `${f}.bak`));
    expect(cli("principal", "create", "later").code).toBe(0);
    const checkpoint = join(data.dir, "checkpoint.json");
    expect(cli("audit", "checkpoint", "-o", checkpoint).code).toBe(0);
    expect(cli("audit", "verify", "--checkpoint", checkpoint).code).toBe(0);

    for (const f of files()) rmSync(join(data.dir, f));
    for (const f of readdirSync(data.dir).filter((n) => n.endsWith(".bak"))) {
      copyFileSync(join(data.dir, f), join(data.dir, f.slice(0, -4)));
    }
    // The older copy is consistent in itself: only the checkpoint held elsewhere shows the rollback.
    expect(cli("audit", "verify").code).toBe(0);
    const verified = cli("audit", "verify", "--checkpoint", checkpoint);
    expect(verified.code).toBe(2);
    expect(verified.stderr).toMatch(
      /TAMPERED at row \d+ \(rolled-back\): the checkpoint of .* saw row \d+ but the log ends at row \d+/,
    );
  });
});
