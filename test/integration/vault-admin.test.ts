import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

describe("the vault admin API", () => {
  let server: InProcess;
  let token: string;
  const admin = async (
    method: "GET" | "POST" | "PATCH" | "DELETE",
    url: string,
    body?: unknown,
    auth = true,
  ) => {
    const res = await server.strongroom.app.inject({
      method,
      url,
      headers: {
        ...(auth && { authorization: `Bearer ${token}` }),
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : undefined };
  };

  beforeAll(async () => {
    server = await startInProcess();
    token = await server.token();
  });
  afterAll(() => server?.stop());

  it("refuses requests without a token", async () => {
    const res = await admin("GET", "/admin/vaults", undefined, false);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("Unauthorized");
  });

  it("lists the default vault made on first start", async () => {
    const res = await admin("GET", "/admin/vaults");
    expect(res.body.value.map((v: { name: string }) => v.name)).toEqual(["default"]);
    expect(res.body.value[0]).toMatchObject({
      sku: "standard",
      softDeleteRetentionDays: 90,
      purgeProtection: false,
    });
  });

  it("creates, shows, updates and deletes a vault", async () => {
    const created = await admin("POST", "/admin/vaults", {
      name: "Payments",
      sku: "premium",
      softDeleteRetentionDays: 30,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "payments", sku: "premium", softDeleteRetentionDays: 30 });
    expect(created.body.vaultUrl).toBe(`https://payments.localhost:${server.strongroom.port}`);
    expect((await admin("GET", "/admin/vaults/payments")).body.name).toBe("payments");
    const updated = await admin("PATCH", "/admin/vaults/payments", { softDeleteRetentionDays: 14 });
    expect(updated.body.softDeleteRetentionDays).toBe(14);
    expect((await admin("DELETE", "/admin/vaults/payments")).status).toBe(204);
    expect((await admin("GET", "/admin/vaults/payments")).status).toBe(404);
  });

  it("refuses a duplicate name, a bad name and a retention outside 7-90 days", async () => {
    expect((await admin("POST", "/admin/vaults", { name: "default" })).status).toBe(409);
    const badName = await admin("POST", "/admin/vaults", { name: "no_underscores" });
    expect(badName.status).toBe(400);
    expect(badName.body.error.message).toMatch(/Vault name "no_underscores" is invalid/);
    expect((await admin("POST", "/admin/vaults", { name: "short", softDeleteRetentionDays: 3 })).status).toBe(
      400,
    );
  });

  it("never turns purge protection off and never deletes a protected vault", async () => {
    await admin("POST", "/admin/vaults", { name: "locked", purgeProtection: true });
    const off = await admin("PATCH", "/admin/vaults/locked", { purgeProtection: false });
    expect(off.status).toBe(400);
    expect(off.body.error.message).toMatch(/can never be turned off/);
    expect((await admin("DELETE", "/admin/vaults/locked")).status).toBe(403);
  });
});

describe("strongroom vault (CLI)", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());
  const cli = (...args: string[]) => runCli([...args, "--data-dir", data.dir]);

  it("creates, lists, shows, updates and deletes vaults", () => {
    const created = cli("vault", "create", "team-a", "--sku", "premium", "--retention-days", "30");
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/name:\s+team-a/);
    expect(created.stdout).toMatch(/url:\s+https:\/\/team-a\.localhost:8443/);
    expect(cli("vault", "list").stdout).toMatch(/team-a\tpremium\t30d/);
    expect(cli("vault", "update", "team-a", "--purge-protection").stdout).toMatch(/purge protection:\s+on/);
    expect(cli("vault", "show", "team-a").stdout).toMatch(/retention days:\s+30/);
    const refused = cli("vault", "delete", "team-a");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/purge protection on/);
    cli("vault", "create", "team-b");
    expect(cli("vault", "delete", "team-b").stdout).toMatch(/deleted/);
  });

  it("says what is wrong with bad input", () => {
    const res = cli("vault", "create", "x");
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^strongroom: Vault name "x" is invalid/);
  });
});
