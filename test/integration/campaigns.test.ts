import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlCampaignStore } from "../../src/storage/sql-campaign-store.js";
import { csrFor } from "../support/acme-client.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";

const V = "api-version=7.6";
const MINUTE_MS = 60_000;
const COUNT = 12;

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`re-issuance campaigns (${backend.name})`, () => {
    const clock = fakeClock(new Date("2026-03-01T00:00:00Z"));
    let server: InProcess;
    let drop: () => Promise<void> = async () => {};
    const core = () => server.strongroom.core;
    const runJob = (name: string) => server.strongroom.scheduler.runOnce(name);
    const names = Array.from({ length: COUNT }, (_, i) => `svc-${String(i).padStart(2, "0")}`);
    const versionsOf = async (name: string) =>
      (await server.kv({ method: "GET", url: `/certificates/${name}/versions?${V}` })).json().value as {
        id: string;
      }[];
    const latestVersion = async (name: string) =>
      ((await server.kv({ method: "GET", url: `/certificates/${name}?${V}` })).json().id as string)
        .split("/")
        .at(-1) as string;
    const issuedFor = async (name: string, version: string) =>
      core().ca.findIssuedForVersion((await core().vaults.get("default")).id, name, version);

    beforeAll(async () => {
      const database = await backend.database();
      drop = async () => database?.drop();
      server = await startInProcess({
        clock,
        // Batches of three over the default three lanes: the twelve certificates are replaced by
        // batches in flight at once, which must still do each once.
        flags: { jobs: false, campaignBatchSize: 3 },
        ...(database && { database: database.url }),
      });
      await core().ca.createRoot({ name: "root", subject: "CN=Drill Root", pathLength: 1 });
      for (const [name, subject] of [
        ["old-int", "CN=Compromised Issuing"],
        ["new-int", "CN=Replacement Issuing"],
      ] as const) {
        await core().ca.createIntermediate({ name, parent: "root", subject, validityDays: 1000 });
        const issuer = await server.kv({
          method: "PUT",
          url: `/certificates/issuers/${name}?${V}`,
          body: { provider: "PrivateCA", credentials: { account_id: name } },
        });
        expect(issuer.statusCode, issuer.body).toBe(200);
      }
      for (const name of names) {
        const created = await server.createCertificate(name, {
          policy: {
            issuer: { name: "old-int" },
            key_props: { kty: "EC" },
            x509_props: { subject: `CN=${name}.internal`, validity_months: 12 },
          },
        });
        expect(created.json().status, created.body).toBe("completed");
      }
      await runJob("inventory");
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      await drop();
    });

    it("refuses a campaign with an unknown revocation reason or a rate that is not positive", async () => {
      await expect(
        core().campaigns.create("bad", { issuer: "Compromised" }, { revokeReason: "lost" as "superseded" }),
      ).rejects.toThrow(/Revocation reason lost is unknown/);
      await expect(core().campaigns.create("bad", {}, { ratePerSecond: 0 })).rejects.toThrow(
        /rate limit must be a positive number/,
      );
      expect((await core().campaigns.list()).map((c) => c.name)).not.toContain("bad");
    });

    it("dry-runs: says for each selected certificate the new version it makes and the revocation", async () => {
      const campaign = await core().campaigns.create(
        "drill",
        { issuer: "Compromised Issuing" },
        { issuer: "new-int", keyType: "EC", curve: "P-256", revokeReason: "cACompromise" },
      );
      expect(campaign.state).toBe("draft");
      const plan = await core().campaigns.dryRun("drill");
      expect(plan.items.map((i) => i.certificateName).sort()).toEqual(names);
      for (const item of plan.items) {
        expect(item.action).toBe("new-version");
        expect(item.fromVersion).toBe(await latestVersion(item.certificateName as string));
        expect(item.step).toBe(
          `new version of default/${item.certificateName} replacing ${item.fromVersion}, from issuer new-int, ` +
            "with a new EC P-256 key, then revoke the old (cACompromise)",
        );
      }
      // A dry run changes nothing.
      for (const name of names) expect(await versionsOf(name)).toHaveLength(1);
      expect((await core().campaigns.status("drill")).progress).toMatchObject({
        total: COUNT,
        done: 0,
        remaining: COUNT,
      });
    });

    it("does nothing while paused, and a failure is recorded and retried without touching those done", async () => {
      await core().campaigns.run("drill");
      await core().campaigns.pause("drill");
      await runJob("campaigns");
      expect((await core().campaigns.status("drill")).progress.done).toBe(0);
      await expect(core().campaigns.pause("drill")).rejects.toThrow(/is paused; it must be running/);

      // An attempt claims a certificate and dies (kill -9) before its batch commits.
      const store = createSqlCampaignStore(core().storage);
      const dead = await store.claim((await campaign()).id, 1, clock.now(), new Date(0));
      const crashed = dead.items[0];
      if (!crashed?.certificateName) throw new Error("nothing to claim");

      // Another is deleted, so its replacement fails.
      const deleted = names.find((n) => n !== crashed.certificateName) as string;
      expect((await server.kv({ method: "DELETE", url: `/certificates/${deleted}?${V}` })).statusCode).toBe(
        200,
      );

      await core().campaigns.resume("drill");
      // While the dead attempt's claim is fresh, its item is left alone.
      await runJob("campaigns");
      expect((await core().campaigns.status("drill")).progress).toMatchObject({
        done: COUNT - 2,
        failed: 1,
        remaining: 1,
      });
      clock.advance(3 * MINUTE_MS);
      await runJob("campaigns");
      const { progress } = await core().campaigns.status("drill");
      expect(progress).toMatchObject({ total: COUNT, done: COUNT - 1, failed: 1, remaining: 0 });
      const failed = (await core().campaigns.items("drill")).items.filter((i) => i.state === "failed");
      expect(failed.map((i) => i.certificateName)).toEqual([deleted]);
      expect(failed[0]?.error).toMatch(new RegExp(deleted));

      // The dead attempt's writes, arriving late, are refused: the item was done once.
      await expect(
        store.commit((await campaign()).id, dead.token, [
          { item: crashed, outcome: { state: "done", toVersion: "late", at: clock.now() } },
        ]),
      ).rejects.toMatchObject({ reason: "ClaimLost" });
      expect(await versionsOf(crashed.certificateName)).toHaveLength(2);

      await server.kv({ method: "POST", url: `/deletedcertificates/${deleted}/recover?${V}` });
      const done = new Map((await core().campaigns.items("drill")).items.map((i) => [i.certificateName, i]));
      expect((await core().campaigns.retry("drill")).retried).toBe(1);
      await runJob("campaigns");
      const after = await core().campaigns.status("drill");
      expect(after.progress).toMatchObject({ done: COUNT, failed: 0, remaining: 0 });
      expect(after.campaign.state).toBe("finished");
      for (const item of (await core().campaigns.items("drill")).items)
        if (item.certificateName !== deleted) expect(item).toEqual(done.get(item.certificateName));
    });

    it("leaves every certificate with one new version under the new intermediate and the old one revoked", async () => {
      const newInt = await core().ca.get("new-int");
      for (const item of (await core().campaigns.items("drill")).items) {
        const name = item.certificateName as string;
        expect(await versionsOf(name)).toHaveLength(2);
        expect(item.toVersion).toBe(await latestVersion(name));
        const replacement = await issuedFor(name, item.toVersion as string);
        expect(replacement.caId).toBe(newInt.id);
        expect(replacement.status).toBe("good");
        const old = await issuedFor(name, item.fromVersion as string);
        expect(old).toMatchObject({ status: "revoked", reason: "cACompromise" });
      }
    });

    it("makes the certificates it cannot replace a task list with their locations", async () => {
      await runJob("inventory");
      await core().inventory.observe([
        {
          // A certificate Strongroom holds in no vault: the old intermediate's, on a server.
          der: (await core().ca.caCertificate((await core().ca.get("old-int")).id)) as Buffer,
          location: "tls://10.0.0.7:443",
          source: "tls",
          seenAt: clock.now(),
        },
      ]);
      await runJob("inventory");
      const newer = await core().campaigns.create("elsewhere", { location: "tls://" });
      expect(newer.state).toBe("draft");
      const plan = await core().campaigns.dryRun("elsewhere");
      expect(plan.items).toHaveLength(1);
      expect(plan.items[0]).toMatchObject({
        action: "task",
        state: "task",
        locations: expect.arrayContaining(["tls://10.0.0.7:443"]),
      });
    });

    it("serves campaigns on the admin API: create, dry run, progress, and Key Vault errors for bad input", async () => {
      const bad = await server.kv({
        method: "POST",
        url: "/admin/campaigns",
        body: { name: "api", query: { minKeySize: "big" } },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toMatch(/minKeySize must be a whole number/);
      const reason = await server.kv({
        method: "POST",
        url: "/admin/campaigns",
        body: { name: "api", query: {}, revokeReason: "oops" },
      });
      expect(reason.statusCode).toBe(400);
      expect(reason.json().error.message).toMatch(/Revocation reason oops is unknown/);

      const created = await server.kv({
        method: "POST",
        url: "/admin/campaigns",
        body: { name: "api", query: { issuer: "Replacement Issuing" }, revokeReason: "superseded" },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject({ state: "draft", progress: { total: COUNT, remaining: COUNT } });
      const page = await server.kv({ method: "GET", url: "/admin/campaigns/api/items?limit=5" });
      expect(page.statusCode, page.body).toBe(200);
      const items = page.json();
      expect(items.value).toHaveLength(5);
      expect(items.value[0].step).toMatch(
        /^new version of default\/svc-\d\d replacing [0-9a-f]{32}, then revoke/,
      );
      expect(items.nextLink).toMatch(/^\/admin\/campaigns\/api\/items\?after=[0-9a-f]{64}$/);

      const resumed = await server.kv({ method: "POST", url: "/admin/campaigns/api/resume" });
      expect(resumed.statusCode).toBe(409);
      expect(resumed.json().error.message).toBe("Campaign api is draft; it must be paused to become running");
      expect((await server.kv({ method: "POST", url: "/admin/campaigns/api/cancel" })).json().state).toBe(
        "cancelled",
      );
      expect((await server.kv({ method: "GET", url: "/admin/campaigns/nope" })).statusCode).toBe(404);
      const listed = (await server.kv({ method: "GET", url: "/admin/campaigns" })).json().value;
      expect(listed.map((c: { name: string }) => c.name)).toEqual(["drill", "elsewhere", "api"]);
    });

    async function campaign() {
      return core().campaigns.get("drill");
    }

    it("replaces a certificate whose issuer signs nothing in a batch (Self) one by one, through its policy", async () => {
      const created = await server.createCertificate("self-made", {
        policy: {
          issuer: { name: "Self" },
          key_props: { kty: "EC" },
          x509_props: { subject: "CN=self-made.internal", validity_months: 12 },
        },
      });
      expect(created.json().status, created.body).toBe("completed");
      const from = await latestVersion("self-made");
      await runJob("inventory");
      await core().campaigns.create(
        "self",
        { subject: "self-made.internal" },
        { keyType: "RSA", keySize: 2048 },
      );
      await core().campaigns.run("self");
      await runJob("campaigns");
      const [item] = (await core().campaigns.items("self")).items;
      const to = await latestVersion("self-made");
      expect(to).not.toBe(from);
      expect(item).toMatchObject({ state: "done", fromVersion: from, toVersion: to });
      const policy = (await server.kv({ method: "GET", url: `/certificates/self-made/policy?${V}` })).json();
      expect(policy.key_props).toMatchObject({ kty: "RSA", key_size: 2048, reuse_key: false });
      expect(await versionsOf("self-made")).toHaveLength(2);
    });

    it("gives a certificate one new version when several of its versions are selected, and revokes every old one", async () => {
      for (let round = 0; round < 2; round++) {
        const created = await server.createCertificate("twice", {
          policy: {
            issuer: { name: "old-int" },
            key_props: { kty: "EC" },
            x509_props: { subject: "CN=twice.internal", validity_months: 12 },
          },
        });
        expect(created.json().status, created.body).toBe("completed");
        clock.advance(MINUTE_MS);
      }
      await runJob("inventory");
      const versions = (await versionsOf("twice")).map((v) => v.id.split("/").at(-1) as string);
      expect(versions).toHaveLength(2);
      await core().campaigns.create(
        "twice-drill",
        { subject: "twice.internal", issuer: "Compromised Issuing" },
        { issuer: "new-int", revokeReason: "cACompromise" },
      );
      const { items } = await core().campaigns.dryRun("twice-drill");
      const latest = await latestVersion("twice");
      const previous = versions.find((v) => v !== latest) as string;
      expect(items).toHaveLength(2);
      expect(items).toContainEqual(
        expect.objectContaining({ action: "new-version", certificateName: "twice", fromVersion: latest }),
      );
      expect(items).toContainEqual(
        expect.objectContaining({
          action: "revoke-old",
          fromVersion: previous,
          step: `older version ${previous} of default/twice, replaced by the new version this campaign makes of its newest: revoke it (cACompromise)`,
        }),
      );

      await core().campaigns.run("twice-drill");
      await runJob("campaigns");
      expect((await core().campaigns.status("twice-drill")).progress).toMatchObject({ done: 2, failed: 0 });
      expect(await versionsOf("twice")).toHaveLength(3);
      const replacement = await issuedFor("twice", await latestVersion("twice"));
      expect(replacement).toMatchObject({ caId: (await core().ca.get("new-int")).id, status: "good" });
      for (const old of [latest, previous])
        expect(await issuedFor("twice", old)).toMatchObject({ status: "revoked", reason: "cACompromise" });
    });

    it("plans a certificate the private CA signed by who holds its key: a vault's gets a new version, one signed from a request is a task", async () => {
      const csr = Buffer.from(await csrFor(["device.internal"]), "base64url");
      const { issued } = await core().ca.signCsr("new-int", csr, {});
      await runJob("inventory");
      await core().campaigns.create("by-ca", { location: "ca://new-int/" });
      const { items } = await core().campaigns.dryRun("by-ca");
      const signedHere = `ca://new-int/${issued.serial}`;
      expect(items.filter((i) => i.action === "task")).toEqual([
        expect.objectContaining({
          subject: "CN=device.internal",
          locations: [signedHere],
          step: `replace by hand: the CA signed it from a certificate request (${signedHere}), so whoever sent the request holds its key; no place it is used is known`,
        }),
      ]);
      // Every certificate the campaign above moved to new-int is in a vault, whose key Strongroom holds.
      for (const name of names)
        expect(items).toContainEqual(
          expect.objectContaining({
            action: "new-version",
            certificateName: name,
            fromVersion: await latestVersion(name),
          }),
        );
    });
  });
}
