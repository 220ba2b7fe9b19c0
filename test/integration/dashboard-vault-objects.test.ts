import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfOf, signInForm } from "../support/dashboard.js";
import { auditRows, type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";

const V = "api-version=7.6";
const PASSWORD = "a long enough passphrase";
const BASE = "/admin/vaults/default";

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`the Vaults page's admin endpoints (${backend.name})`, () => {
    let server: InProcess;
    let drop: () => Promise<void> = async () => {};
    const sessions = new Map<string, { cookie: string; csrf: string }>();
    let secretVersion: string;

    /** A call of the admin API as a signed-in dashboard user, with the session's CSRF token on writes. */
    const as = async (
      user: string,
      method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
      url: string,
      body?: unknown,
    ) => {
      const session = sessions.get(user);
      if (!session) throw new Error(`${user} is not signed in`);
      const res = await server.strongroom.app.inject({
        method,
        url,
        headers: {
          host: `localhost:${server.strongroom.port}`,
          cookie: session.cookie,
          ...(method !== "GET" && { "x-csrf-token": session.csrf }),
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() };
    };

    async function user(name: string, role: string | undefined) {
      const { users, access } = server.strongroom.core;
      const made = await users.create(name, PASSWORD);
      // Everyone may use the dashboard; what each may do with vault objects is its Key Vault role.
      await access.assign(made.principal.id, "Strongroom Reader", "/");
      if (role) await access.assign(made.principal.id, role, "/vaults/default");
      const { cookie } = await signInForm(server, name, PASSWORD);
      if (!cookie) throw new Error(`${name} could not sign in`);
      const page = await server.strongroom.app.inject({
        method: "GET",
        url: "/ui/",
        headers: { host: `localhost:${server.strongroom.port}`, cookie },
      });
      sessions.set(name, { cookie, csrf: csrfOf(page.body) });
    }

    const versionsOf = async (name: string) =>
      (await server.kv({ method: "GET", url: `/certificates/${name}/versions?${V}` })).json().value.length;

    beforeAll(async () => {
      const database = await backend.database();
      drop = async () => database?.drop();
      server = await startInProcess({ flags: { jobs: false }, ...(database && { database: database.url }) });
      for (const name of ["api", "web"]) {
        const created = await server.createCertificate(name, {
          policy: {
            issuer: { name: "Self" },
            key_props: { kty: "EC", crv: "P-256" },
            x509_props: {
              subject: `CN=${name}.example`,
              sans: { dns_names: [`${name}.example`] },
              validity_months: 12,
            },
            lifetime_actions: [
              { trigger: { lifetime_percentage: 80 }, action: { action_type: "AutoRenew" } },
            ],
          },
          tags: { team: "payments" },
        });
        expect(created.json().status, created.body).toBe("completed");
      }
      for (const body of [
        { kty: "RSA", key_size: 2048 },
        { kty: "EC", crv: "P-384" },
      ]) {
        const made = await server.kv({ method: "POST", url: `/keys/signing/create?${V}`, body });
        expect(made.statusCode, made.body).toBe(200);
      }
      await server.kv({
        method: "PUT",
        url: `/secrets/db-password?${V}`,
        body: { value: "first", contentType: "text/plain", attributes: { exp: 1_900_000_000 } },
      });
      const latest = await server.kv({
        method: "PUT",
        url: `/secrets/db-password?${V}`,
        body: { value: "s3cret!" },
      });
      secretVersion = (latest.json().id as string).split("/").at(-1) as string;
      await user("carol", "Key Vault Administrator");
      await user("dave", "Key Vault Reader");
      await user("erin", undefined);
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await drop();
    });

    it("lists a vault's certificates, keys and secrets with their attributes, a page at a time", async () => {
      const certificates = await as("dave", "GET", `${BASE}/certificates`);
      expect(certificates.statusCode, certificates.body).toBe(200);
      expect(certificates.json().value.map((c: { name: string }) => c.name)).toEqual(["api", "web"]);
      expect(certificates.json().value[0]).toMatchObject({
        enabled: true,
        tags: { team: "payments" },
        contentType: "application/x-pkcs12",
        expiresAt: expect.any(String),
        notBefore: expect.any(String),
        thumbprint: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
      const first = (await as("dave", "GET", `${BASE}/certificates?limit=1`)).json();
      expect(first.value.map((c: { name: string }) => c.name)).toEqual(["api"]);
      const second = (
        await as("dave", "GET", `${BASE}/certificates?limit=1&after=${encodeURIComponent(first.next)}`)
      ).json();
      expect(second.value.map((c: { name: string }) => c.name)).toEqual(["web"]);

      const keys = (await as("dave", "GET", `${BASE}/keys`)).json().value;
      expect(keys.find((k: { name: string }) => k.name === "signing")).toMatchObject({
        keyType: "EC",
        curve: "P-384",
      });
      // A certificate's backing key and secret are listed too, marked managed, as Key Vault lists them.
      expect(keys.find((k: { name: string }) => k.name === "api")).toMatchObject({
        managed: true,
        keyType: "EC",
      });
      const secrets = (await as("dave", "GET", `${BASE}/secrets`)).json().value;
      const secret = secrets.find((s: { name: string }) => s.name === "db-password");
      expect(secret).toMatchObject({ name: "db-password", enabled: true });
      expect(JSON.stringify(secrets)).not.toContain("s3cret!");
    });

    it("lists the versions of a key and of a secret, with each version's attributes", async () => {
      const keys = (await as("dave", "GET", `${BASE}/keys/signing/versions`)).json().value;
      expect(keys.map((k: { keyType: string }) => k.keyType).sort()).toEqual(["EC", "RSA"]);
      expect(keys.find((k: { keyType: string }) => k.keyType === "RSA")).toMatchObject({ keySize: 2048 });
      const secrets = (await as("dave", "GET", `${BASE}/secrets/db-password/versions`)).json().value;
      expect(secrets).toHaveLength(2);
      expect(secrets.find((s: { contentType?: string }) => s.contentType === "text/plain")).toMatchObject({
        expiresAt: new Date(1_900_000_000_000).toISOString(),
      });
      const missing = await as("dave", "GET", `${BASE}/secrets/nothing-here/versions`);
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe("SecretNotFound");
    });

    it("lists a certificate's versions to a vault reader, and refuses them to an admin reader without vault data rights", async () => {
      const listed = await as("dave", "GET", `${BASE}/certificates/web/versions`);
      expect(listed.statusCode, listed.body).toBe(200);
      expect(listed.json().value).toHaveLength(1);
      expect(listed.json().value[0]).toMatchObject({ enabled: true, thumbprint: expect.any(String) });
      // erin holds only the dashboard's Strongroom Reader, which grants no vault data.
      const refused = await as("erin", "GET", `${BASE}/certificates/web/versions`);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.message).toContain("Microsoft.KeyVault/vaults/certificates/read");
    });

    it("refuses a listing to a user without the read right, naming the action", async () => {
      const refused = await as("erin", "GET", `${BASE}/secrets`);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.message).toContain("Microsoft.KeyVault/vaults/secrets/readMetadata/action");
    });

    it("reads a certificate's policy and saves a changed lifetime action, as the Key Vault API then reads it", async () => {
      const policy = (await as("dave", "GET", `${BASE}/certificates/web/policy`)).json();
      expect(policy.lifetime_actions).toEqual([
        { trigger: { lifetime_percentage: 80 }, action: { action_type: "AutoRenew" } },
      ]);
      expect(policy.x509_props).toMatchObject({
        subject: "CN=web.example",
        sans: { dns_names: ["web.example"] },
      });
      const saved = await as("carol", "PATCH", `${BASE}/certificates/web/policy`, {
        lifetime_actions: [
          { trigger: { days_before_expiry: 30 }, action: { action_type: "AutoRenew" } },
          { trigger: { days_before_expiry: 60 }, action: { action_type: "EmailContacts" } },
        ],
      });
      expect(saved.statusCode, saved.body).toBe(200);
      const read = (await server.kv({ method: "GET", url: `/certificates/web/policy?${V}` })).json();
      expect(read.lifetime_actions).toEqual([
        { trigger: { days_before_expiry: 30 }, action: { action_type: "AutoRenew" } },
        { trigger: { days_before_expiry: 60 }, action: { action_type: "EmailContacts" } },
      ]);
      const rows = (await auditRows(server)).filter((r) => r.operation === "CertificatePolicyUpdate");
      expect(rows.at(-1)).toMatchObject({ vault: "default", outcome: "success", status: 200 });
      expect(rows.at(-1)?.objectId).toMatch(/\/certificates\/web$/);
    });

    it("refuses an invalid policy with 400 and the reason, and a reader's change with 403, changing nothing", async () => {
      const before = (await server.kv({ method: "GET", url: `/certificates/web/policy?${V}` })).json();
      const invalid = await as("carol", "PATCH", `${BASE}/certificates/web/policy`, {
        lifetime_actions: [{ trigger: { lifetime_percentage: 150 }, action: { action_type: "AutoRenew" } }],
      });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().error.code).toBe("BadParameter");
      expect(invalid.json().error.message).toMatch(/lifetime_percentage|percentage/i);
      const notJson = await as("carol", "PATCH", `${BASE}/certificates/web/policy`, "not a policy");
      expect(notJson.statusCode).toBe(400);
      const reader = await as("dave", "PATCH", `${BASE}/certificates/web/policy`, {
        x509_props: { validity_months: 3 },
      });
      expect(reader.statusCode).toBe(403);
      expect(reader.json().error.message).toContain("certificates/update/action");
      expect((await server.kv({ method: "GET", url: `/certificates/web/policy?${V}` })).json()).toEqual(
        before,
      );
    });

    it("refuses a policy change an organisation rule forbids, naming the rule", async () => {
      const { rules } = server.strongroom.core;
      const rule = await rules.set({ kind: "key-types", value: ["RSA"], vault: "default" });
      try {
        const refused = await as("carol", "PATCH", `${BASE}/certificates/web/policy`, {
          x509_props: { validity_months: 6 },
        });
        expect(refused.statusCode).toBe(400);
        expect(refused.json().error.message).toMatch(/^Organisation rule key-types \(vault default\)/);
      } finally {
        await rules.remove(rule.id);
      }
      expect(
        (await server.kv({ method: "GET", url: `/certificates/web/policy?${V}` })).json().x509_props
          .validity_months,
      ).toBe(12);
    });

    it("creates, lists and deletes a vault's issuers", async () => {
      const set = await as("carol", "PUT", `${BASE}/issuers/corp-ca`, {
        provider: "PrivateCA",
        credentials: { account_id: "corp" },
        org_details: { admin_details: [{ email: "pki@example.com" }] },
      });
      expect(set.statusCode, set.body).toBe(200);
      const listed = (await as("dave", "GET", `${BASE}/issuers`)).json().value;
      expect(listed).toContainEqual(expect.objectContaining({ name: "corp-ca", provider: "PrivateCA" }));
      const fromKeyVault = await server.kv({ method: "GET", url: `/certificates/issuers/corp-ca?${V}` });
      expect(fromKeyVault.json().org_details.admin_details).toEqual([{ email: "pki@example.com" }]);
      expect((await as("dave", "DELETE", `${BASE}/issuers/corp-ca`)).statusCode).toBe(403);
      expect((await as("carol", "DELETE", `${BASE}/issuers/corp-ca`)).statusCode).toBe(204);
      expect((await as("dave", "GET", `${BASE}/issuers`)).json().value).toEqual([]);
      const reserved = await as("carol", "PUT", `${BASE}/issuers/Self`, { provider: "PrivateCA" });
      expect(reserved.statusCode).toBe(400);
    });

    it("reads and sets a vault's certificate contacts", async () => {
      expect((await as("carol", "GET", `${BASE}/contacts`)).json().contacts).toEqual([]);
      const set = await as("carol", "PUT", `${BASE}/contacts`, {
        contacts: [{ email: "pki@example.com", name: "PKI team" }],
      });
      expect(set.statusCode, set.body).toBe(200);
      const read = (await server.kv({ method: "GET", url: `/certificates/contacts?${V}` })).json();
      expect(read.contacts).toEqual([{ email: "pki@example.com", name: "PKI team" }]);
      const bad = await as("carol", "PUT", `${BASE}/contacts`, { contacts: [{ email: "not-an-address" }] });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toContain("not an e-mail address");
    });

    it("reveals a secret's value on a POST, uncached, audited as a Key Vault SecretGet", async () => {
      const revealed = await as("carol", "POST", `${BASE}/secrets/db-password/${secretVersion}/reveal`);
      expect(revealed.statusCode, revealed.body).toBe(200);
      expect(revealed.json()).toEqual({ name: "db-password", version: secretVersion, value: "s3cret!" });
      expect(revealed.headers["cache-control"]).toBe("no-store");
      const carol = (await server.strongroom.core.users.list()).find((u) => u.username === "carol");
      const row = (await auditRows(server)).filter((r) => r.operation === "SecretGet").at(-1);
      expect(row).toMatchObject({
        principalId: carol?.principal.id,
        vault: "default",
        objectId: expect.stringMatching(/\/secrets\/db-password$/),
        version: secretVersion,
        outcome: "success",
        detail: expect.stringMatching(/^allow: role "Key Vault Administrator" at \/vaults\/default/),
      });
      // No GET gives the value.
      expect(
        (await as("carol", "GET", `${BASE}/secrets/db-password/${secretVersion}/reveal`)).statusCode,
      ).toBe(404);
    });

    it("refuses a reveal to a user without secrets/getSecret with 403, and audits the refusal", async () => {
      const refused = await as("dave", "POST", `${BASE}/secrets/db-password/${secretVersion}/reveal`);
      expect(refused.statusCode).toBe(403);
      expect(refused.body).not.toContain("s3cret!");
      expect(refused.json().error.message).toContain("secrets/getSecret/action");
      const row = (await auditRows(server)).filter((r) => r.operation === "SecretGet").at(-1);
      expect(row).toMatchObject({ outcome: "failure", status: 403, detail: expect.stringMatching(/^deny:/) });
    });

    it("follows a vault's access policy where the vault does not use RBAC, as Key Vault does", async () => {
      const { vaults, access, users, secrets } = server.strongroom.core;
      const legacy = await vaults.create("legacy", {});
      await access.setVaultAccess(legacy, { enableRbacAuthorization: false });
      const made = await secrets.set(legacy, "api-key", { value: "k3y" });
      const erin = (await users.list()).find((u) => u.username === "erin");
      await access.setPolicy(legacy, erin?.principal.id as string, { secrets: ["get", "list"] });
      const url = `/admin/vaults/legacy/secrets/api-key/${made.version}/reveal`;
      const revealed = await as("erin", "POST", url);
      expect(revealed.statusCode, revealed.body).toBe(200);
      expect(revealed.json().value).toBe("k3y");
      // Carol's role on the default vault is no access policy of this one.
      const refused = await as("carol", "POST", url);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.innererror.code).toBe("ForbiddenByPolicy");
    });

    it("keeps a vault's firewall: a user outside its IP rules is refused as on the Key Vault API", async () => {
      const { vaults, access } = server.strongroom.core;
      const vault = await vaults.get("default");
      await access.setVaultAccess(vault, { ipRules: ["10.0.0.0/8"] });
      try {
        const outside = await as("carol", "POST", `${BASE}/secrets/db-password/${secretVersion}/reveal`);
        expect(outside.statusCode).toBe(403);
        expect(outside.body).not.toContain("s3cret!");
        expect(outside.json().error.innererror.code).toBe("ForbiddenByFirewall");
        expect((await as("carol", "GET", `${BASE}/secrets`)).statusCode).toBe(403);
        const row = (await auditRows(server)).filter((r) => r.operation === "SecretGet").at(-1);
        expect(row).toMatchObject({
          status: 403,
          detail: expect.stringContaining("outside the vault's ipRules"),
        });
        await access.setVaultAccess(vault, { ipRules: ["127.0.0.1"] });
        expect((await as("carol", "GET", `${BASE}/secrets`)).statusCode).toBe(200);
      } finally {
        await access.setVaultAccess(vault, { ipRules: [] });
      }
    });

    it("re-issues a vault certificate: a new version through its policy, with a new key when asked", async () => {
      const before = await versionsOf("api");
      const oldKey = (await server.kv({ method: "GET", url: `/keys/api?${V}` })).json().key;
      const reissued = await as("carol", "POST", `${BASE}/certificates/api/reissue`, {
        keyType: "RSA",
        keySize: 3072,
      });
      expect(reissued.statusCode, reissued.body).toBe(200);
      expect(reissued.json()).toMatchObject({
        status: "completed",
        version: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
      expect(await versionsOf("api")).toBe(before + 1);
      const latest = (await server.kv({ method: "GET", url: `/certificates/api?${V}` })).json();
      expect(latest.id.endsWith(`/${reissued.json().version}`)).toBe(true);
      expect(latest.policy.key_props).toMatchObject({ kty: "RSA", key_size: 3072 });
      const newKey = (await server.kv({ method: "GET", url: `/keys/api?${V}` })).json().key;
      expect(newKey.kty).toBe("RSA");
      expect(newKey.n).not.toBe(oldKey.n);
    });

    it("answers bad input on every endpoint with 400 and the reason in Key Vault's format, and writes nothing", async () => {
      const snapshot = async () =>
        JSON.stringify([
          (await server.kv({ method: "GET", url: `/certificates/web/policy?${V}` })).json(),
          (await as("carol", "GET", `${BASE}/issuers`)).json(),
          (await as("carol", "GET", `${BASE}/contacts`)).json(),
          await versionsOf("web"),
        ]);
      const before = await snapshot();
      const cases: [string, "GET" | "POST" | "PUT" | "PATCH", string, unknown][] = [
        ["page size 0", "GET", `${BASE}/certificates?limit=0`, undefined],
        ["page size 26", "GET", `${BASE}/keys?limit=26`, undefined],
        ["page size not a number", "GET", `${BASE}/secrets?limit=ten`, undefined],
        ["an unknown query parameter", "GET", `${BASE}/secrets?color=red`, undefined],
        ["a policy that is not an object", "PATCH", `${BASE}/certificates/web/policy`, []],
        [
          "a key type Key Vault has not",
          "PATCH",
          `${BASE}/certificates/web/policy`,
          { key_props: { kty: "DSA" } },
        ],
        ["an issuer provider that is not text", "PUT", `${BASE}/issuers/corp`, { provider: 5 }],
        ["an issuer name with a space", "PUT", `${BASE}/issuers/bad%20name`, { provider: "PrivateCA" }],
        ["contacts that are not a list", "PUT", `${BASE}/contacts`, { contacts: "pki@example.com" }],
        [
          "a re-issue key type other than EC or RSA",
          "POST",
          `${BASE}/certificates/web/reissue`,
          { keyType: "DSA" },
        ],
        ["a re-issue option that does not exist", "POST", `${BASE}/certificates/web/reissue`, { bogus: 1 }],
      ];
      for (const [what, method, url, body] of cases) {
        const res = await as("carol", method, url, body);
        expect(res.statusCode, `${what}: ${res.body}`).toBe(400);
        expect(res.json().error.code, what).toBeDefined();
        expect(res.json().error.message, what).not.toBe("");
      }
      expect(await snapshot()).toBe(before);
    });

    it("refuses a re-issue without the create right, of a missing certificate, or with an unsupported key", async () => {
      const before = await versionsOf("web");
      expect((await as("dave", "POST", `${BASE}/certificates/web/reissue`)).statusCode).toBe(403);
      expect((await as("carol", "POST", `${BASE}/certificates/missing/reissue`)).statusCode).toBe(404);
      const bad = await as("carol", "POST", `${BASE}/certificates/web/reissue`, {
        keyType: "RSA",
        keySize: 1024,
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toContain("RSA key size 1024 is not supported");
      expect(await versionsOf("web")).toBe(before);
    });
  });
}
