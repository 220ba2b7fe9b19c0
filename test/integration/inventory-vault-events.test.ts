import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlEventStore } from "../../src/storage/sql-event-store.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";
import { deliveredToEverySubscription } from "../support/subscriptions.js";

const V = "api-version=7.5";

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(
    `the inventory follows certificates restored from a backup and vaults deleted (${backend.name})`,
    () => {
      let server: InProcess;
      let drop: () => Promise<void> = async () => {};
      const core = () => server.strongroom.core;
      const runJob = () => server.strongroom.scheduler.runOnce("inventory");
      const admin = async (method: "POST" | "DELETE", url: string, body?: unknown) =>
        server.strongroom.app.inject({
          method,
          url,
          ...(body !== undefined && { payload: body as Record<string, unknown> }),
          headers: { authorization: `Bearer ${await server.token()}` },
        });
      /** A self-signed certificate made in `vault`; its SHA-256 and the URI of its version. */
      const issue = async (vault: string, name: string) => {
        const host = { host: `${vault}.localhost:${server.strongroom.port}` };
        const created = await server.kv({
          method: "POST",
          url: `/certificates/${name}/create?${V}`,
          headers: host,
          body: {
            policy: {
              issuer: { name: "Self" },
              key_props: { kty: "EC" },
              x509_props: { subject: `CN=${name}.internal`, validity_months: 12 },
            },
          },
        });
        expect(created.statusCode, created.body).toBe(202);
        // Polled as the SDK's poller does: the poll is what issues a self-signed certificate.
        const pending = await server.kv({
          method: "GET",
          url: `/certificates/${name}/pending?${V}`,
          headers: host,
        });
        expect(pending.json().status, pending.body).toBe("completed");
        const got = await server.kv({ method: "GET", url: `/certificates/${name}?${V}`, headers: host });
        expect(got.statusCode, got.body).toBe(200);
        const { cer, id } = got.json();
        return {
          sha256: createHash("sha256").update(Buffer.from(cer, "base64")).digest("hex"),
          uri: `vault://${vault}/certificates/${name}/${String(id).split("/").at(-1)}`,
        };
      };
      const locationOf = async (sha256: string, uri: string) =>
        (await core().inventory.show(sha256)).locations.find((l) => l.uri === uri);

      beforeAll(async () => {
        const database = await backend.database();
        drop = async () => database?.drop();
        server = await startInProcess({
          flags: { jobs: false },
          ...(database && { database: database.url }),
        });
        await runJob();
      }, 60_000);

      afterAll(async () => {
        await server?.stop();
        await drop();
      });

      it("marks a purged certificate's location gone and brings it back when its backup is restored", async () => {
        const made = await issue("default", "kept");
        await runJob();
        expect((await locationOf(made.sha256, made.uri))?.goneAt).toBeUndefined();

        const backup = (await server.kv({ method: "POST", url: `/certificates/kept/backup?${V}` })).json();
        expect((await server.kv({ method: "DELETE", url: `/certificates/kept?${V}` })).statusCode).toBe(200);
        const purged = await server.kv({ method: "DELETE", url: `/deletedcertificates/kept?${V}` });
        expect(purged.statusCode).toBe(204);
        await runJob();
        expect((await locationOf(made.sha256, made.uri))?.goneAt).toBeInstanceOf(Date);

        const restored = await server.kv({ method: "POST", url: `/certificates/restore?${V}`, body: backup });
        expect(restored.statusCode, restored.body).toBe(200);
        expect(await runJob()).toMatch(/^applied [1-9]\d* events$/);
        const back = await locationOf(made.sha256, made.uri);
        expect(back?.goneAt).toBeUndefined();
        expect(back?.source).toBe("vault");
      });

      it("takes in a restored certificate it never saw before", async () => {
        const made = await issue("default", "unseen");
        const backup = (await server.kv({ method: "POST", url: `/certificates/unseen/backup?${V}` })).json();
        await server.kv({ method: "DELETE", url: `/certificates/unseen?${V}` });
        await server.kv({ method: "DELETE", url: `/deletedcertificates/unseen?${V}` });
        // The create, delete and purge are applied before the restore: only the restore can bring it in.
        await runJob();
        const restored = await server.kv({ method: "POST", url: `/certificates/restore?${V}`, body: backup });
        expect(restored.statusCode, restored.body).toBe(200);
        await runJob();
        expect((await locationOf(made.sha256, made.uri))?.goneAt).toBeUndefined();
      });

      it("marks every location of a deleted vault gone and keeps other vaults' locations live", async () => {
        expect((await admin("POST", "/admin/vaults", { name: "doomed" })).statusCode).toBe(201);
        const doomed = await issue("doomed", "inside");
        const other = await issue("default", "outside");
        await runJob();
        expect((await locationOf(doomed.sha256, doomed.uri))?.goneAt).toBeUndefined();

        const removed = await admin("DELETE", "/admin/vaults/doomed");
        expect(removed.statusCode, removed.body).toBe(204);
        await runJob();
        expect((await locationOf(doomed.sha256, doomed.uri))?.goneAt).toBeInstanceOf(Date);
        expect((await locationOf(other.sha256, other.uri))?.goneAt).toBeUndefined();
        expect((await core().inventory.list({ location: "vault://doomed/" })).items).toEqual([]);
      });

      it("keeps the restore and vault-deletion events away from webhooks: both are internal", async () => {
        const events = (await createSqlEventStore(core().storage).after(0, 10_000)).filter((e) =>
          ["CertificateRestored", "VaultDeleted"].includes(e.type),
        );
        expect(new Set(events.map((e) => e.type))).toEqual(new Set(["CertificateRestored", "VaultDeleted"]));
        expect(deliveredToEverySubscription(events, new Date())).toEqual([]);
      });
    },
  );
}
