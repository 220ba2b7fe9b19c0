import { ClientSecretCredential } from "@azure/identity";
import { type DeletedSecret, SecretClient, type SecretProperties } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const poll = { intervalInMs: 50 };

// Every method of SecretClient, driven over HTTPS against a real server process on each storage
// engine. The CA is trusted through the SDK's own TLS options, never by turning verification off.
describe.each(serverBackends)(
  "the official @azure/keyvault-secrets SDK with @azure/identity on $name",
  (backend) => {
    if (!backend.enabled) return;
    const data = tempDataDir();
    let dropDatabase: (() => Promise<unknown>) | undefined;
    let server: ServerProcess;
    let client: SecretClient;
    let guarded: SecretClient;
    let credential: ClientSecretCredential;
    const tlsOptions = () => ({ ca: server.ca });

    beforeAll(async () => {
      const database = await backendArgs(backend);
      dropDatabase = database.drop;
      server = await startServerProcess(data.dir, [
        "--host",
        "127.0.0.1,127.0.0.2",
        "--alias",
        "127.0.0.2=guarded",
        ...database.args,
      ]);
      credential = new ClientSecretCredential(
        server.admin.tenantId,
        server.admin.clientId,
        server.admin.clientSecret,
        {
          authorityHost: server.admin.authorityHost,
          disableInstanceDiscovery: true,
          tlsOptions: tlsOptions(),
        },
      );
      client = new SecretClient(server.admin.vaultUrl, credential, {
        disableChallengeResourceVerification: true,
        tlsOptions: tlsOptions(),
      });

      const http = httpsClient(server.ca);
      const token = await adminToken(http, server.admin);
      const created = await http.send(`${server.admin.authorityHost}/admin/vaults`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "guarded", purgeProtection: true, softDeleteRetentionDays: 7 }),
      });
      expect(created.status).toBe(201);
      http.close();
      guarded = new SecretClient(`https://127.0.0.2:${server.port}`, credential, {
        disableChallengeResourceVerification: true,
        tlsOptions: tlsOptions(),
      });
    });

    afterAll(async () => {
      await server?.stop();
      await dropDatabase?.();
      data.remove();
    });

    it("sets a secret and gets it back with its content type, tags and validity", async () => {
      const expiresOn = new Date("2031-01-01T00:00:00Z");
      const notBefore = new Date("2026-01-01T00:00:00Z");
      const set = await client.setSecret("db-password", "hunter2", {
        contentType: "text/plain",
        tags: { env: "test" },
        expiresOn,
        notBefore,
      });
      expect(set.value).toBe("hunter2");
      const got = await client.getSecret("db-password");
      expect(got.value).toBe("hunter2");
      expect(got.properties).toMatchObject({
        contentType: "text/plain",
        tags: { env: "test" },
        enabled: true,
        expiresOn,
        notBefore,
        recoverableDays: 90,
        recoveryLevel: "Recoverable+Purgeable",
        vaultUrl: server.admin.vaultUrl,
        name: "db-password",
      });
      expect(got.properties.version).toMatch(/^[0-9a-f]{32}$/);
      expect(got.properties.id).toBe(
        `${server.admin.vaultUrl}/secrets/db-password/${got.properties.version}`,
      );
    });

    it("keeps every version and gets the latest or a named one", async () => {
      const first = await client.setSecret("rotating", "v1");
      const second = await client.setSecret("rotating", "v2");
      expect((await client.getSecret("rotating")).value).toBe("v2");
      expect((await client.getSecret("rotating", { version: first.properties.version ?? "" })).value).toBe(
        "v1",
      );
      const versions = await collect(client.listPropertiesOfSecretVersions("rotating"));
      expect(versions.map((v) => v.version)).toEqual([first.properties.version, second.properties.version]);
    });

    it("treats names case-insensitively, as Key Vault does", async () => {
      await client.setSecret("MixedCase", "value");
      expect((await client.getSecret("mixedcase")).value).toBe("value");
    });

    it("updates properties and refuses the value of a disabled version with 403", async () => {
      const secret = await client.setSecret("toggled", "value");
      const updated = await client.updateSecretProperties("toggled", secret.properties.version ?? "", {
        enabled: false,
        tags: { owner: "ops" },
        contentType: "application/json",
      });
      expect(updated).toMatchObject({
        enabled: false,
        tags: { owner: "ops" },
        contentType: "application/json",
      });
      await expect(client.getSecret("toggled")).rejects.toMatchObject({ statusCode: 403, code: "Forbidden" });
      await client.updateSecretProperties("toggled", secret.properties.version ?? "", { enabled: true });
      expect((await client.getSecret("toggled")).value).toBe("value");
    });

    it("lists secrets across pages of the size the client asks for", async () => {
      const names = Array.from({ length: 30 }, (_, i) => `paged-${String(i).padStart(2, "0")}`);
      for (const name of names) await client.setSecret(name, name);
      const pages: SecretProperties[][] = [];
      for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 7 })) pages.push(page);
      expect(pages.length).toBeGreaterThan(4);
      const listed = pages.flat().map((p) => p.name);
      expect(listed.filter((n) => n.startsWith("paged-"))).toEqual(names);
      expect(new Set(listed).size).toBe(listed.length);
      const all = await collect(client.listPropertiesOfSecrets());
      expect(all.map((p) => p.name)).toEqual(expect.arrayContaining(names));
    });

    it("deletes softly, lists and gets the deleted secret, and recovers it", async () => {
      await client.setSecret("recoverable", "keep me");
      const deletion = await client.beginDeleteSecret("recoverable", poll);
      const deleted = await deletion.pollUntilDone();
      expect(deleted.recoveryId).toBe(`${server.admin.vaultUrl}/deletedsecrets/recoverable`);
      expect(deleted.deletedOn).toBeInstanceOf(Date);
      expect(deleted.scheduledPurgeDate?.getTime()).toBeGreaterThan(Date.now() + 89 * 86_400_000);
      await expect(client.getSecret("recoverable")).rejects.toMatchObject({
        statusCode: 404,
        code: "SecretNotFound",
      });

      expect((await client.getDeletedSecret("recoverable")).name).toBe("recoverable");
      const deletedNames = (await collect<DeletedSecret>(client.listDeletedSecrets())).map((d) => d.name);
      expect(deletedNames).toContain("recoverable");

      await expect(client.setSecret("recoverable", "reuse")).rejects.toMatchObject({ statusCode: 409 });

      const recovery = await client.beginRecoverDeletedSecret("recoverable", poll);
      await recovery.pollUntilDone();
      expect((await client.getSecret("recoverable")).value).toBe("keep me");
    });

    it("purges a deleted secret so its name can be used again", async () => {
      await client.setSecret("purgeable", "old");
      await (await client.beginDeleteSecret("purgeable", poll)).pollUntilDone();
      await client.purgeDeletedSecret("purgeable");
      await expect(client.getDeletedSecret("purgeable")).rejects.toMatchObject({ statusCode: 404 });
      await client.setSecret("purgeable", "new");
      const versions = await collect(client.listPropertiesOfSecretVersions("purgeable"));
      expect(versions).toHaveLength(1);
    });

    it("backs up and restores every version of a secret", async () => {
      const v1 = await client.setSecret("backed-up", "one");
      await client.setSecret("backed-up", "two");
      const backup = await client.backupSecret("backed-up");
      expect(backup?.length).toBeGreaterThan(0);
      await (await client.beginDeleteSecret("backed-up", poll)).pollUntilDone();
      await client.purgeDeletedSecret("backed-up");

      const restored = await client.restoreSecretBackup(backup as Uint8Array);
      expect(restored.name).toBe("backed-up");
      expect((await client.getSecret("backed-up")).value).toBe("two");
      expect((await client.getSecret("backed-up", { version: v1.properties.version ?? "" })).value).toBe(
        "one",
      );
      await expect(client.restoreSecretBackup(backup as Uint8Array)).rejects.toMatchObject({
        statusCode: 409,
      });
    });

    it("refuses to purge in a vault with purge protection", async () => {
      await guarded.setSecret("protected", "value");
      const deleted = await (await guarded.beginDeleteSecret("protected", poll)).pollUntilDone();
      expect(deleted.properties.recoveryLevel).toBe("CustomizedRecoverable");
      expect(deleted.properties.recoverableDays).toBe(7);
      await expect(guarded.purgeDeletedSecret("protected")).rejects.toMatchObject({ statusCode: 403 });
      expect((await guarded.getDeletedSecret("protected")).name).toBe("protected");
    });

    it("keeps vaults apart: a secret in one is not in another", async () => {
      await guarded.setSecret("only-here", "value");
      await expect(client.getSecret("only-here")).rejects.toMatchObject({ statusCode: 404 });
    });

    it("works with every api-version the SDKs send", async () => {
      for (const serviceVersion of ["7.2", "7.5", "7.6", "2025-07-01"] as const) {
        const versioned = new SecretClient(server.admin.vaultUrl, credential, {
          disableChallengeResourceVerification: true,
          tlsOptions: tlsOptions(),
          serviceVersion,
        });
        await versioned.setSecret(`version-${serviceVersion.replace(/\./g, "-")}`, serviceVersion);
        expect((await versioned.getSecret(`version-${serviceVersion.replace(/\./g, "-")}`)).value).toBe(
          serviceVersion,
        );
      }
    });
  },
);
