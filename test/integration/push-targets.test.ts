import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, assignRole, createPrincipal, type Json } from "../support/access.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";

const V = "api-version=7.6";
const PUSH = "/admin/push-targets";

const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`push targets into a second Strongroom (${backend.name})`, () => {
    let local: InProcess;
    let remote: InProcess;
    let drop: () => Promise<void> = async () => {};

    /** A new version of `name`: self-signed, key exportable so its secret carries the key. */
    const renew = async (name: string) => {
      const created = await local.createCertificate(name, {
        policy: {
          issuer: { name: "Self" },
          x509_props: { subject: `CN=${name}.example`, validity_months: 12 },
          key_props: { kty: "EC", crv: "P-256", exportable: true },
          secret_props: { contentType: "application/x-pem-file" },
        },
      });
      expect(created.statusCode).toBe(202);
      return currentOf(local, name);
    };
    const currentOf = async (
      server: InProcess,
      name: string,
    ): Promise<{ version: string; cer: string } | undefined> => {
      const got = await server.kv({ method: "GET", url: `/certificates/${name}?${V}` });
      if (got.statusCode !== 200) return undefined;
      const body = got.json();
      return { version: String(body.id).split("/").pop() as string, cer: body.cer };
    };
    const target = async (name: string): Promise<Json> =>
      (await adminCall(local, "GET", `${PUSH}/${name}`)).body;
    const addRemoteVault = async (name: string, role: string) => {
      const principal = await createPrincipal(remote, name);
      await assignRole(remote, principal.id, role, "/vaults/default");
      const added = await adminCall(local, "POST", "/admin/discovery/remote-vaults", {
        name,
        kind: "azure-key-vault",
        url: `https://localhost:${remote.strongroom.port}`,
        settings: {
          tenantId: remote.strongroom.admin.tenantId,
          clientId: principal.clientId,
          authorityHost: remote.strongroom.admin.authorityHost,
          caPem: readFileSync(remote.strongroom.admin.caFile as string, "utf8"),
          // The remote serves at localhost, which is not a subdomain of its token resource.
          disableChallengeResourceVerification: "true",
        },
        secret: { clientSecret: principal.clientSecret },
      });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
    };

    beforeAll(async () => {
      const database = await backend.database();
      drop = async () => database?.drop();
      local = await startInProcess(database ? { database: database.url } : {});
      remote = await startInProcess();
      await addRemoteVault("copy", "Key Vault Certificates Officer");
      await addRemoteVault("read-only", "Key Vault Reader");
    }, 120_000);

    afterAll(async () => {
      await local?.stop();
      await remote?.stop();
      await drop();
    });

    it("keeps the second server's copy in step with the certificate across two renewals", async () => {
      const first = await renew("web");
      const created = await adminCall(local, "POST", PUSH, {
        name: "web-copy",
        certificate: "web",
        vault: "default",
        remoteVault: "copy",
        targetCertificate: "web-mirror",
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        state: "pending",
        remoteVault: "copy",
        targetCertificate: "web-mirror",
      });
      for (let round = 0; round < 3; round++) {
        const expected = round === 0 ? first : await renew("web");
        // The push-targets job of the running server, not a call of the test's, imports it.
        await until(
          `version ${expected?.version} to reach the copy`,
          async () => (await currentOf(remote, "web-mirror"))?.cer === expected?.cer,
          30_000,
        );
        await until(
          "the target to say so",
          async () => (await target("web-copy")).deliveredVersion === expected?.version,
          10_000,
        );
        expect(await target("web-copy")).toMatchObject({ state: "in-sync", version: expected?.version });
        if (round > 0) expect(expected?.cer).not.toBe(first?.cer);
      }
      // The copy carries the key: a certificate's secret there holds it, as Key Vault's import keeps it.
      const secret = (await remote.kv({ method: "GET", url: `/secrets/web-mirror?${V}` })).json();
      expect(secret.value).toMatch(/PRIVATE KEY/);
      const versions = (
        await remote.kv({ method: "GET", url: `/certificates/web-mirror/versions?${V}` })
      ).json();
      expect(versions.value).toHaveLength(3);
    }, 120_000);

    it("marks a target the remote refuses as failed and raises delivery-failed", async () => {
      await renew("api");
      const created = await adminCall(local, "POST", PUSH, {
        name: "api-refused",
        certificate: "api",
        remoteVault: "read-only",
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await until("the push to fail", async () => (await target("api-refused")).state === "failed", 30_000);
      expect((await target("api-refused")).error).toMatch(/refused access \(403\)/);
      await local.strongroom.core.alerts.evaluate();
      const alerts = await local.strongroom.core.alerts.list({ kind: "delivery-failed" });
      expect(alerts.map((a) => a.location)).toContain("push://api-refused");
      expect(
        (await adminCall(local, "GET", PUSH)).body.value.map((t: Json) => `${t.name} ${t.state}`),
      ).toEqual(["api-refused failed", "web-copy in-sync"]);
      expect((await adminCall(local, "DELETE", `${PUSH}/api-refused`)).status).toBe(204);
      await local.strongroom.core.alerts.evaluate();
      expect(
        (await local.strongroom.core.alerts.list({ kind: "delivery-failed" })).map((a) => a.location),
      ).not.toContain("push://api-refused");
    }, 60_000);

    it.each([
      [{ name: "x", certificate: "web", remoteVault: "nowhere" }, 404],
      [{ name: "x", certificate: "web", remoteVault: "copy", vault: "nowhere" }, 404],
      [{ name: "bad name", certificate: "web", remoteVault: "copy" }, 400],
      [{ name: "x", certificate: "web_1", remoteVault: "copy" }, 400],
      [{ name: "web-copy", certificate: "web", remoteVault: "copy" }, 409],
      [{ name: "x", certificate: "web", remoteVault: "copy", extra: 1 }, 400],
    ])("refuses %j with %i and stores nothing", async (body, status) => {
      const answer = await adminCall(local, "POST", PUSH, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expect(answer.body.error.code).toBeTruthy();
      expect((await adminCall(local, "GET", PUSH)).body.value.map((t: Json) => t.name)).not.toContain("x");
    });
  });
}
