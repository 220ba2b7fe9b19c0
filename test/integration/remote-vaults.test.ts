import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobList } from "../../src/main.js";
import { adminCall, assignRole, createPrincipal, type Json } from "../support/access.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";

const V = "api-version=7.6";
const REMOTE = "/admin/discovery/remote-vaults";

/** A Key Vault certificate policy: self-signed, renewed at 80 % of its life, contacts mailed 30 days before expiry. */
const policy = (cn: string) => ({
  policy: {
    issuer: { name: "Self" },
    x509_props: { subject: `CN=${cn}`, validity_months: 12 },
    key_props: { kty: "EC", crv: "P-256", exportable: true },
    lifetime_actions: [
      { trigger: { lifetime_percentage: 80 }, action: { action_type: "AutoRenew" } },
      { trigger: { days_before_expiry: 30 }, action: { action_type: "EmailContacts" } },
    ],
  },
});

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(
    `remote Azure Key Vault connector against a second Strongroom (${backend.name})`,
    () => {
      let local: InProcess;
      let remote: InProcess;
      let drop: () => Promise<void> = async () => {};
      let remoteHost: string;
      let caPem: string;
      let reader: { id: string; clientId: string; clientSecret: string };
      /** SHA-256 of each remote certificate version's DER, by `name/version`. */
      const remoteVersions = new Map<string, string>();
      let work: string;

      const connection = (
        overrides: { secret?: Record<string, string>; settings?: Record<string, string> } = {},
      ) => ({
        kind: "azure-key-vault",
        url: `https://localhost:${remote.strongroom.port}`,
        settings: {
          tenantId: remote.strongroom.admin.tenantId,
          clientId: reader.clientId,
          authorityHost: remote.strongroom.admin.authorityHost,
          caPem,
          // The remote serves at localhost, which is not a subdomain of its token resource.
          disableChallengeResourceVerification: "true",
          ...overrides.settings,
        },
        secret: overrides.secret ?? { clientSecret: reader.clientSecret },
      });
      const inventoryRecord = async (sha256: string): Promise<Json> =>
        (await adminCall(local, "GET", `/admin/inventory/${sha256}`)).body;
      const akvLocation = (name: string, version: string) =>
        `akv://${remoteHost}/certificates/${name}/${version}`;

      async function createRemoteCertificate(name: string): Promise<void> {
        const created = await remote.kv({
          method: "POST",
          url: `/certificates/${name}/create?${V}`,
          body: policy(`${name}.example`),
        });
        expect(created.statusCode).toBe(202);
        // Create answers 202 with a pending operation, as Key Vault does; wait for it to complete.
        for (let i = 0; i < 100; i++) {
          const pending = (
            await remote.kv({ method: "GET", url: `/certificates/${name}/pending?${V}` })
          ).json();
          if (pending.status !== "inProgress") break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const got = (await remote.kv({ method: "GET", url: `/certificates/${name}?${V}` })).json();
        const version = String(got.id).split("/").pop() as string;
        remoteVersions.set(
          `${name}/${version}`,
          createHash("sha256").update(Buffer.from(got.cer, "base64")).digest("hex"),
        );
      }

      beforeAll(async () => {
        const database = await backend.database();
        drop = async () => database?.drop();
        local = await startInProcess(database ? { database: database.url } : {});
        remote = await startInProcess();
        remoteHost = `localhost:${remote.strongroom.port}`;
        caPem = readFileSync(remote.strongroom.admin.caFile as string, "utf8");
        await createRemoteCertificate("web");
        await createRemoteCertificate("web");
        await createRemoteCertificate("api");
        reader = await createPrincipal(remote, "inventory-reader");
        await assignRole(remote, reader.id, "Key Vault Reader", "/vaults/default");
        work = mkdtempSync(join(tmpdir(), "remote-vaults-"));
      }, 120_000);

      afterAll(async () => {
        await local?.stop();
        await remote?.stop();
        await drop();
        if (work) rmSync(work, { recursive: true, force: true });
      });

      it("registers a remote vault with a client secret, showing the secret's field name but never its value", async () => {
        const added = await adminCall(local, "POST", REMOTE, { name: "contoso", ...connection() });
        expect(added.status).toBe(201);
        expect(added.body).toMatchObject({
          name: "contoso",
          kind: "azure-key-vault",
          secretFields: ["clientSecret"],
          lastSync: null,
        });
        expect(JSON.stringify(added.body)).not.toContain(reader.clientSecret);
        expect(JSON.stringify((await adminCall(local, "GET", REMOTE)).body)).not.toContain(
          reader.clientSecret,
        );
      });

      it("syncs every version of every certificate into the inventory at akv:// locations with its policy", async () => {
        const synced = await adminCall(local, "POST", `${REMOTE}/contoso/sync`);
        expect(synced.status).toBe(200);
        expect(synced.body).toMatchObject({ name: "contoso", status: "ok", certificates: 3, gone: 0 });
        for (const [nameVersion, sha256] of remoteVersions) {
          const [name, version] = nameVersion.split("/") as [string, string];
          const record = await inventoryRecord(sha256);
          const location = record.locations.find((l: Json) => l.uri === akvLocation(name, version));
          expect(location).toMatchObject({ source: "akv" });
          expect(location.detail).toMatchObject({
            name,
            version,
            issuer: "Self",
            lifetimeActions: "AutoRenew at 80% of lifetime; EmailContacts 30 days before expiry",
            remoteVault: "contoso",
          });
        }
        const listed = await adminCall(local, "GET", "/admin/inventory?source=akv");
        expect(listed.body.value.map((i: Json) => i.fingerprintSha256).sort()).toEqual(
          [...remoteVersions.values()].sort(),
        );
      });

      it("marks the versions of a certificate deleted in the remote vault gone at the next sync", async () => {
        expect((await remote.kv({ method: "DELETE", url: `/certificates/web?${V}` })).statusCode).toBe(200);
        const synced = await adminCall(local, "POST", `${REMOTE}/contoso/sync`);
        expect(synced.body).toMatchObject({ status: "ok", certificates: 1, gone: 2 });
        for (const [nameVersion, sha256] of remoteVersions) {
          const [name, version] = nameVersion.split("/") as [string, string];
          const location = (await inventoryRecord(sha256)).locations.find(
            (l: Json) => l.uri === akvLocation(name, version),
          );
          if (name === "web") expect(location.goneAt).toBeDefined();
          else expect(location.goneAt).toBeUndefined();
        }
      });

      it("reads with a client certificate credential too", async () => {
        // @azure/identity signs its client assertion with RS256, so the certificate's key is RSA, as in Azure.
        execFileSync(
          "openssl",
          [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.pem",
            "-subj",
            "/CN=inventory-reader",
            "-days",
            "30",
          ],
          { cwd: work, stdio: "ignore" },
        );
        const certificate = readFileSync(join(work, "client.pem"), "utf8");
        const principal = await createPrincipal(remote, "inventory-reader-by-certificate");
        expect(
          (await adminCall(remote, "POST", `/admin/principals/${principal.id}/certificates`, { certificate }))
            .status,
        ).toBe(201);
        await assignRole(remote, principal.id, "Key Vault Reader", "/vaults/default");
        const added = await adminCall(local, "POST", REMOTE, {
          name: "contoso-by-certificate",
          ...connection({
            settings: { clientId: principal.clientId },
            secret: { certificate: certificate + readFileSync(join(work, "client.key"), "utf8") },
          }),
        });
        expect(added.status, JSON.stringify(added.body)).toBe(201);
        expect(added.body.secretFields).toEqual(["certificate"]);
        const synced = await adminCall(local, "POST", `${REMOTE}/contoso-by-certificate/sync`);
        expect(synced.body).toMatchObject({ status: "ok", certificates: 1 });
      });

      it("refuses a wrong client secret with a clear 400 and stores nothing", async () => {
        const res = await adminCall(local, "POST", REMOTE, {
          name: "wrong-secret",
          ...connection({ secret: { clientSecret: "not-the-secret" } }),
        });
        expect(res.status).toBe(400);
        expect(res.body.error.message).toMatch(/refused the credential/);
        expect((await adminCall(local, "GET", `${REMOTE}/wrong-secret`)).status).toBe(404);
      });

      it("refuses an unreachable URL with a clear 400 and stores nothing", async () => {
        const res = await adminCall(local, "POST", REMOTE, {
          name: "nowhere",
          ...connection(),
          url: "https://127.0.0.1:1",
        });
        expect(res.status).toBe(400);
        expect(res.body.error.message).toMatch(/could not be reached/);
        expect((await adminCall(local, "GET", `${REMOTE}/nowhere`)).status).toBe(404);
      });

      it("refuses malformed registrations without reaching out", async () => {
        const cases: [unknown, RegExp][] = [
          [{ name: "x", ...connection(), kind: "aws-acm" }, /kind "aws-acm" is not supported/],
          [{ name: "x", ...connection(), url: "http://localhost:1" }, /not an https URL/],
          [{ name: "x", ...connection(), settings: { clientId: "c" } }, /tenantId is required/],
          [
            { name: "x", ...connection({ secret: {} }) },
            /exactly one of secret.clientSecret and secret.certificate/,
          ],
          [{ name: "bad name!", ...connection() }, /not a valid name/],
          [
            { name: "x", ...connection(), settings: { tenantId: "t", clientId: "c", password: "p" } },
            /setting password is not one of/,
          ],
          [{ name: "x" }, /kind|url/],
        ];
        for (const [body, message] of cases) {
          const res = await adminCall(local, "POST", REMOTE, body);
          expect(res.status, JSON.stringify(body)).toBe(400);
          expect(res.body.error.message).toMatch(message);
        }
        expect((await adminCall(local, "POST", REMOTE, { name: "contoso", ...connection() })).status).toBe(
          409,
        );
        expect((await adminCall(local, "POST", `${REMOTE}/missing/sync`)).status).toBe(404);
        const names = (await adminCall(local, "GET", REMOTE)).body.value.map((v: Json) => v.name);
        expect(names).toEqual(["contoso", "contoso-by-certificate"]);
      });

      it("records a failed sync on the vault without forgetting what it saw, and answers with the reason", async () => {
        expect(
          (await adminCall(remote, "PATCH", `/admin/principals/${reader.id}`, { enabled: false })).status,
        ).toBe(200);
        const res = await adminCall(local, "POST", `${REMOTE}/contoso/sync`);
        expect(res.status).toBe(400);
        expect(res.body.error.message).toMatch(/refused the credential/);
        const shown = (await adminCall(local, "GET", `${REMOTE}/contoso`)).body;
        expect(shown.lastSync).toMatchObject({ status: "failed", certificates: 1 });
        const api = [...remoteVersions].find(([k]) => k.startsWith("api/")) as [string, string];
        const location = (await inventoryRecord(api[1])).locations.find((l: Json) =>
          l.uri.startsWith(`akv://${remoteHost}/certificates/api/`),
        );
        expect(location.goneAt).toBeUndefined();
        expect(
          (await adminCall(remote, "PATCH", `/admin/principals/${reader.id}`, { enabled: true })).status,
        ).toBe(200);
      });

      it("syncs every remote vault from the hourly job", async () => {
        const job = jobList(local.strongroom.core).find((j) => j.name === "remote-vault-sync");
        expect(job?.intervalMs).toBe(3_600_000);
        const summary = await job?.run(new AbortController().signal);
        expect(summary).toBe("2 remote vaults read, 2 certificates, 0 gone");
      });

      it("keeps the client secret sealed at rest", async () => {
        const rows = await local.strongroom.core.storage.db.selectFrom("remote_vaults").selectAll().execute();
        expect(rows).toHaveLength(2);
        for (const row of rows) {
          expect(Buffer.from(row.sealed_secret).includes(Buffer.from(reader.clientSecret))).toBe(false);
          expect(JSON.stringify(row)).not.toContain(reader.clientSecret);
        }
        const file = join(local.strongroom.core.config.dataDir, "strongroom.db");
        for (const f of [file, `${file}-wal`].filter(existsSync))
          expect(readFileSync(f).includes(Buffer.from(reader.clientSecret))).toBe(false);
      });

      it("removes a remote vault and marks its locations gone", async () => {
        expect((await adminCall(local, "DELETE", `${REMOTE}/contoso-by-certificate`)).status).toBe(204);
        expect((await adminCall(local, "DELETE", `${REMOTE}/contoso`)).status).toBe(204);
        const api = [...remoteVersions].find(([k]) => k.startsWith("api/")) as [string, string];
        const record = await inventoryRecord(api[1]);
        expect(record.locations.every((l: Json) => l.goneAt !== undefined)).toBe(true);
        expect((await adminCall(local, "GET", REMOTE)).body.value).toEqual([]);
      });
    },
  );
}
