import { afterAll, describe, expect, it } from "vitest";
import { kvAs, tokenFor } from "../support/access.js";
import { runCli } from "../support/cli.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

describe("the access commands of the strongroom CLI", () => {
  const data = tempDataDir();
  const cli = (...args: string[]) => runCli([...args, "--data-dir", data.dir]);
  let server: InProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  const field = (out: string, name: string) => new RegExp(`${name}:\\s+(\\S+)`).exec(out)?.[1] ?? "";

  it("creates principals and groups, assigns roles and sets vault access, which a server then enforces", async () => {
    const created = cli("principal", "create", "billing-app");
    expect(created.code).toBe(0);
    const id = field(created.stdout, "id");
    const clientId = field(created.stdout, "client id");
    const secret = field(created.stdout, "client secret");
    expect(secret.length).toBeGreaterThan(20);

    const team = cli("principal", "create", "billing-team", "--kind", "group");
    expect(team.stdout).not.toMatch(/client secret/);
    const teamId = field(team.stdout, "id");
    expect(cli("group", "add-member", teamId, id).code).toBe(0);

    expect(cli("vault", "create", "billing").code).toBe(0);
    const assigned = cli("role", "assign", teamId, "Key Vault Secrets Officer", "/vaults/billing");
    expect(assigned.code).toBe(0);
    expect(cli("principal", "show", teamId).stdout).toMatch(/Key Vault Secrets Officer\t\/vaults\/billing/);
    expect(cli("principal", "list").stdout).toMatch(/billing-app/);
    expect(cli("role", "list").stdout).toMatch(/built-in\tKey Vault Certificate User/);

    const bad = cli("role", "assign", id, "Key Vault Reader", "/vaults/billing/widgets/x");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^strongroom: Scope "\/vaults\/billing\/widgets\/x" is invalid/);

    server = await startInProcess({ dataDir: data.dir });
    const host = `billing.localhost:${server.strongroom.port}`;
    const token = await tokenFor(server, clientId, secret);
    expect(
      (await kvAs(server, token, "PUT", "/secrets/s?api-version=7.6", { host, body: { value: "v" } })).status,
    ).toBe(200);
    expect((await kvAs(server, token, "GET", "/secrets/s?api-version=7.6")).status).toBe(403);
  }, 90_000);

  it("switches a vault to access policies and manages them", () => {
    expect(cli("vault", "access", "billing", "--access-policies", "--ip-rule", "10.0.0.0/8").stdout).toMatch(
      /authorization: access policies\nip rules:\s+10\.0\.0\.0\/8/,
    );
    const list = cli("principal", "list").stdout;
    const appId = /^(\S+)\t\S+\tservicePrincipal\tenabled\tbilling-app$/m.exec(list)?.[1] ?? "";
    expect(cli("policy", "set", "billing", appId, "--secrets", "get", "list").stdout).toMatch(
      /secrets: get,list/,
    );
    expect(cli("policy", "list", "billing").stdout).toMatch(new RegExp(`${appId}\tkeys:\tsecrets:get,list`));
    expect(cli("policy", "set", "billing", appId, "--secrets", "peek").code).toBe(1);
    expect(cli("policy", "delete", "billing", appId).code).toBe(0);
    expect(cli("principal", "disable", appId).stdout).toMatch(/disabled\tbilling-app/);
  });

  it("takes a principal's name where it takes an id, and lists the ids when a name is ambiguous", () => {
    const json = <T>(...args: string[]) => JSON.parse(cli(...args, "--json").stdout) as T;
    expect(cli("principal", "create", "ops-robot").code).toBe(0);
    expect(cli("principal", "create", "ops-team", "--kind", "group").code).toBe(0);

    const added = cli("group", "add-member", "ops-team", "ops-robot");
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout.trim()).toBe("ops-robot is a member of ops-team");
    const assigned = cli("role", "assign", "OPS-TEAM", "Key Vault Reader", "/vaults/billing");
    expect(assigned.code, assigned.stderr).toBe(0);

    const team = json<{
      id: string;
      kind: string;
      members: string[];
      assignments: { role: string; scope: string }[];
    }>("principal", "show", "ops-team");
    const robot = json<{ id: string }>("principal", "show", "ops-robot");
    expect(team.kind).toBe("group");
    expect(team.members).toEqual([robot.id]);
    expect(team.assignments).toEqual([
      expect.objectContaining({ role: "Key Vault Reader", scope: "/vaults/billing" }),
    ]);

    expect(cli("principal", "create", "ops-robot").code).toBe(0);
    const robots = json<{ id: string; displayName: string }[]>("principal", "list").filter(
      (p) => p.displayName === "ops-robot",
    );
    expect(robots).toHaveLength(2);
    const ambiguous = cli("role", "assign", "ops-robot", "Key Vault Reader", "/vaults/billing");
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr.trim().split("\n")).toHaveLength(1);
    expect(ambiguous.stderr).toContain("2 principals are named ops-robot; give one of their ids:");
    for (const r of robots) expect(ambiguous.stderr).toContain(r.id);

    const nobody = cli("group", "add-member", "ops-team", "nobody-here");
    expect(nobody.code).toBe(1);
    expect(nobody.stderr.trim()).toBe(
      "strongroom: No principal has the id, client id or name nobody-here (see what exists: `strongroom principal list`)",
    );
  });
});
