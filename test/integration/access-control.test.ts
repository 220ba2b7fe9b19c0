import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, assignRole, createPrincipal, kvAs, requestToken, tokenFor } from "../support/access.js";
import { auditRows, fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";
const selfSigned = { policy: { issuer: { name: "Self" }, x509_props: { subject: "CN=app.example" } } };

describe("access control", () => {
  const clock = fakeClock();
  let server: InProcess;

  beforeAll(async () => {
    server = await startInProcess({ clock });
    for (const name of ["app-cert", "other-cert"]) {
      const res = await server.createCertificate(name, selfSigned);
      expect(res.statusCode).toBe(202);
    }
    await server.kv({ method: "PUT", url: `/secrets/plain?${V}`, body: { value: "p" } });
  }, 60_000);
  afterAll(() => server?.stop());

  it("lets a Certificate User on one certificate read it and its secret, and nothing else", async () => {
    const app = await createPrincipal(server, "web-app");
    await assignRole(server, app.id, "Key Vault Certificate User", "/vaults/default/certificates/app-cert");
    const token = await tokenFor(server, app.clientId, app.clientSecret);

    expect((await kvAs(server, token, "GET", `/certificates/app-cert?${V}`)).status).toBe(200);
    const secret = await kvAs(server, token, "GET", `/secrets/app-cert?${V}`);
    expect(secret.status).toBe(200);
    expect(secret.body.kid).toContain("/keys/app-cert/");
    expect((await kvAs(server, token, "GET", `/keys/app-cert?${V}`)).status).toBe(200);

    for (const [method, url] of [
      ["GET", `/certificates/other-cert?${V}`],
      ["GET", `/secrets/other-cert?${V}`],
      ["GET", `/secrets/plain?${V}`],
      ["GET", `/certificates?${V}`],
      ["DELETE", `/certificates/app-cert?${V}`],
      ["PUT", `/secrets/app-cert?${V}`],
    ] as const) {
      const res = await kvAs(server, token, method, url, method === "PUT" ? { body: { value: "x" } } : {});
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error.innererror.code).toBe("ForbiddenByRbac");
    }
  });

  it("gives a team's role to its members, and takes it away when one leaves", async () => {
    const team = (
      await adminCall(server, "POST", "/admin/principals", { displayName: "team", kind: "group" })
    ).body;
    expect(team.clientSecret).toBeUndefined();
    const member = await createPrincipal(server, "team-member");
    await assignRole(server, team.id, "Key Vault Certificates Officer", "/vaults/default");
    const token = await tokenFor(server, member.clientId, member.clientSecret);

    expect((await kvAs(server, token, "GET", `/certificates?${V}`)).status).toBe(403);
    expect((await adminCall(server, "PUT", `/admin/principals/${team.id}/members/${member.id}`)).status).toBe(
      204,
    );
    expect((await kvAs(server, token, "GET", `/certificates?${V}`)).status).toBe(200);
    expect((await kvAs(server, token, "GET", `/secrets/plain?${V}`)).status).toBe(403);
    expect(
      (await adminCall(server, "DELETE", `/admin/principals/${team.id}/members/${member.id}`)).status,
    ).toBe(204);
    expect((await kvAs(server, token, "GET", `/certificates?${V}`)).status).toBe(403);

    const groupToken = await requestToken(server, { client_id: team.clientId, client_secret: "anything" });
    expect(groupToken.status).toBe(401);
  });

  it("grants a custom role's data actions minus its notDataActions", async () => {
    const role = await adminCall(server, "POST", "/admin/roles", {
      name: "Secret reader without values",
      dataActions: ["Microsoft.KeyVault/vaults/secrets/*"],
      notDataActions: [
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/*/action",
      ],
    });
    expect(role.status).toBe(201);
    expect(role.body.roleType).toBe("CustomRole");
    const p = await createPrincipal(server, "custom");
    await assignRole(server, p.id, "Secret reader without values", "/vaults/default");
    const token = await tokenFor(server, p.clientId, p.clientSecret);
    expect((await kvAs(server, token, "GET", `/secrets/plain?${V}`)).status).toBe(403);
    expect((await kvAs(server, token, "PUT", `/secrets/plain?${V}`, { body: { value: "x" } })).status).toBe(
      403,
    );
    // secrets/delete is not an "/action": the role keeps it.
    expect((await kvAs(server, token, "DELETE", `/secrets/nothing-here?${V}`)).status).toBe(404);

    expect((await adminCall(server, "DELETE", `/admin/roles/${role.body.id}`)).status).toBe(409);
    const bad = await adminCall(server, "POST", "/admin/roles", { name: "x", dataActions: ["rm -rf"] });
    expect(bad.status).toBe(400);
  });

  it("decides by access policy in a vault with enableRbacAuthorization false", async () => {
    expect((await adminCall(server, "POST", "/admin/vaults", { name: "legacy" })).status).toBe(201);
    const legacyHost = `legacy.localhost:${server.strongroom.port}`;
    const p = await createPrincipal(server, "policy-user");
    await assignRole(server, p.id, "Key Vault Administrator", "/vaults/legacy");
    const token = await tokenFor(server, p.clientId, p.clientSecret);
    expect((await kvAs(server, token, "GET", `/secrets?${V}`, { host: legacyHost })).status).toBe(200);

    const patched = await adminCall(server, "PATCH", "/admin/vaults/legacy/access", {
      enableRbacAuthorization: false,
    });
    expect(patched.body.enableRbacAuthorization).toBe(false);
    const denied = await kvAs(server, token, "GET", `/secrets?${V}`, { host: legacyHost });
    expect(denied.status).toBe(403);
    expect(denied.body.error.innererror.code).toBe("ForbiddenByPolicy");
    expect(denied.body.error.message).toMatch(/does not have secrets list permission on key vault 'legacy/);

    const policy = await adminCall(server, "PUT", `/admin/vaults/legacy/accesspolicies/${p.id}`, {
      secrets: ["get", "list", "set"],
    });
    expect(policy.status).toBe(200);
    expect(
      (await kvAs(server, token, "PUT", `/secrets/s?${V}`, { host: legacyHost, body: { value: "v" } }))
        .status,
    ).toBe(200);
    expect((await kvAs(server, token, "GET", `/secrets/s?${V}`, { host: legacyHost })).status).toBe(200);
    expect((await kvAs(server, token, "DELETE", `/secrets/s?${V}`, { host: legacyHost })).status).toBe(403);
    expect((await kvAs(server, token, "GET", `/keys?${V}`, { host: legacyHost })).status).toBe(403);

    const unknown = await adminCall(server, "PUT", `/admin/vaults/legacy/accesspolicies/${p.id}`, {
      secrets: ["gett"],
    });
    expect(unknown.status).toBe(400);
    expect((await adminCall(server, "DELETE", `/admin/vaults/legacy/accesspolicies/${p.id}`)).status).toBe(
      204,
    );
    expect((await kvAs(server, token, "GET", `/secrets/s?${V}`, { host: legacyHost })).status).toBe(403);
  });

  it("refuses clients outside a vault's IP rules and audits the refusal", async () => {
    const token = await server.token();
    const set = await adminCall(server, "PATCH", "/admin/vaults/default/access", {
      networkAcls: { ipRules: [{ value: "10.0.0.0/8" }] },
    });
    expect(set.body.networkAcls).toEqual({ defaultAction: "Deny", ipRules: [{ value: "10.0.0.0/8" }] });
    try {
      const outside = await kvAs(server, token, "GET", `/secrets/plain?${V}`, {
        remoteAddress: "192.168.1.5",
      });
      expect(outside.status).toBe(403);
      expect(outside.body.error.innererror.code).toBe("ForbiddenByFirewall");
      expect(outside.body.error.message).toMatch(/Client address: 192\.168\.1\.5/);
      const inside = await kvAs(server, token, "GET", `/secrets/plain?${V}`, {
        remoteAddress: "10.20.30.40",
      });
      expect(inside.status).toBe(200);
      const rows = await auditRows(server);
      expect(
        rows.some(
          (r) => r.clientAddress === "192.168.1.5" && r.detail?.includes("outside the vault's ipRules"),
        ),
      ).toBe(true);
    } finally {
      await adminCall(server, "PATCH", "/admin/vaults/default/access", { networkAcls: { ipRules: [] } });
    }
    const invalid = await adminCall(server, "PATCH", "/admin/vaults/default/access", {
      networkAcls: { ipRules: [{ value: "10.0.0.0/33" }] },
    });
    expect(invalid.status).toBe(400);
  });

  it("records every allow and deny with the rule that decided it", async () => {
    const p = await createPrincipal(server, "audited");
    const assignment = await assignRole(server, p.id, "Key Vault Secrets User", "/vaults/default");
    const token = await tokenFor(server, p.clientId, p.clientSecret);
    await kvAs(server, token, "GET", `/secrets/plain?${V}`);
    await kvAs(server, token, "DELETE", `/secrets/plain?${V}`);
    const mine = (await auditRows(server)).filter((r) => r.principalId === p.id);
    expect(mine.find((r) => r.operation === "SecretGet")?.detail).toBe(
      `allow: role "Key Vault Secrets User" at /vaults/default (assignment ${assignment.id})`,
    );
    expect(mine.find((r) => r.operation === "SecretDelete")).toMatchObject({
      status: 403,
      detail: "deny: no role assignment grants Microsoft.KeyVault/vaults/secrets/delete",
    });
  });

  it("refuses expired, revoked and disabled credentials", async () => {
    const p = await createPrincipal(server, "short-lived", {
      secretExpiresAt: new Date(clock.now().getTime() + 3_600_000).toISOString(),
    });
    await assignRole(server, p.id, "Key Vault Secrets User", "/");
    const token = await tokenFor(server, p.clientId, p.clientSecret);
    expect((await kvAs(server, token, "GET", `/secrets/plain?${V}`)).status).toBe(200);

    clock.advance(3_600_001);
    const expired = await requestToken(server, { client_id: p.clientId, client_secret: p.clientSecret });
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe("invalid_client");

    const added = await adminCall(server, "POST", `/admin/principals/${p.id}/secrets`, {});
    expect(added.status).toBe(201);
    const fresh = await tokenFor(server, p.clientId, added.body.clientSecret);
    expect(
      (await adminCall(server, "DELETE", `/admin/principals/${p.id}/secrets/${added.body.id}`)).status,
    ).toBe(204);
    const revoked = await requestToken(server, {
      client_id: p.clientId,
      client_secret: added.body.clientSecret,
    });
    expect(revoked.status).toBe(401);

    const second = await adminCall(server, "POST", `/admin/principals/${p.id}/secrets`, {});
    expect((await adminCall(server, "PATCH", `/admin/principals/${p.id}`, { enabled: false })).status).toBe(
      200,
    );
    const disabled = await requestToken(server, {
      client_id: p.clientId,
      client_secret: second.body.clientSecret,
    });
    expect(disabled.status).toBe(401);
    // A token issued before the principal was disabled stops working at once.
    const stale = await kvAs(server, fresh, "GET", `/secrets/plain?${V}`);
    expect(stale.status).toBe(401);

    expect((await adminCall(server, "DELETE", `/admin/principals/${p.id}`)).status).toBe(204);
    expect((await kvAs(server, fresh, "GET", `/secrets/plain?${V}`)).status).toBe(401);
    expect((await adminCall(server, "GET", `/admin/principals/${p.id}`)).status).toBe(404);
  });

  it("keeps the admin API to principals holding its actions", async () => {
    const p = await createPrincipal(server, "data-admin");
    await assignRole(server, p.id, "Key Vault Administrator", "/");
    const token = await tokenFor(server, p.clientId, p.clientSecret);
    const res = await server.strongroom.app.inject({
      method: "GET",
      url: "/admin/vaults",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.innererror.code).toBe("ForbiddenByRbac");

    const badScope = await adminCall(server, "POST", "/admin/roleassignments", {
      principalId: p.id,
      role: "Key Vault Reader",
      scope: "/vaults/default/widgets/x",
    });
    expect(badScope.status).toBe(400);
    const badRole = await adminCall(server, "POST", "/admin/roleassignments", {
      principalId: p.id,
      role: "Key Vault Janitor",
      scope: "/",
    });
    expect(badRole.status).toBe(404);
    const roles = (await adminCall(server, "GET", "/admin/roles")).body.value.map(
      (r: { roleName: string }) => r.roleName,
    );
    expect(roles).toContain("Key Vault Crypto Service Encryption User");
  });
});
