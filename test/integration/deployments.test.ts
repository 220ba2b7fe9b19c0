import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVersionWatch } from "../../src/domain/deployments/version-watch.js";
import type { Agent } from "../../src/domain/discovery/model.js";
import type { Core } from "../../src/main.js";
import { backends } from "../support/backends.js";
import { fakeClock } from "../support/in-process.js";
import { pemWithKey, testCertificate } from "../support/inventory-certs.js";
import { openTestCore } from "../support/test-core.js";

const DAY_MS = 86_400_000;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`deployments seen from the server on ${backend.engine}`, () => {
    const clock = fakeClock(new Date("2026-07-01T00:00:00Z"));
    let close: () => Promise<void>;
    let core: Core;
    let agent: Agent;

    const newVersion = async (name: string, vault = "default") =>
      core.certificates.import(await core.vaults.get(vault), name, {
        value: await pemWithKey(
          await testCertificate({
            subject: `CN=${name}.example`,
            notAfter: new Date(clock.now().getTime() + 90 * DAY_MS),
          }),
        ),
      });
    const deliveryAlerts = async () =>
      (await core.alerts.list({ kind: "delivery-failed", state: "all" })).map(
        (a) => `${a.state} ${a.location}`,
      );

    beforeAll(async () => {
      ({ core, close } = await openTestCore(backend, clock));
      await core.vaults.create("default");
      await core.vaults.create("other");
      agent = (await core.discovery.registerAgent("web-host")).agent;
    }, 60_000);
    afterAll(() => close?.());

    it("keeps each sync's last report and puts delivered files in the inventory as file:// locations", async () => {
      const cert = await testCertificate({
        subject: "CN=web.example",
        notAfter: new Date("2026-12-01T00:00:00Z"),
      });
      await core.deployments.report(agent, "web", {
        source: "https://localhost/certificates/web",
        state: "in-sync",
        version: "v1",
        paths: ["/etc/nginx/ssl/fullchain.pem", "/etc/nginx/ssl/key.pem"],
        delivered: { version: "v1", at: clock.now(), chain: [cert.der] },
      });
      const [sync] = await core.deployments.syncs(agent.id);
      expect(sync).toMatchObject({ name: "web", state: "in-sync", deliveredVersion: "v1", version: "v1" });
      expect(sync?.deliveredAt?.getTime()).toBe(clock.now().getTime());
      const record = await core.inventory.show(createHash("sha256").update(cert.der).digest("hex"));
      expect(record.locations.map((l) => l.uri).sort()).toEqual([
        "file://web-host/etc/nginx/ssl/fullchain.pem",
        "file://web-host/etc/nginx/ssl/key.pem",
      ]);
    });

    it("raises delivery-failed for a failed sync and resolves it once the sync delivers again", async () => {
      const report = { source: "https://localhost/certificates/api", paths: ["/srv/api.pem"] };
      await core.deployments.report(agent, "api", {
        ...report,
        state: "failed",
        version: "v2",
        error: "nginx -s reload failed: exit 1",
      });
      clock.advance(60_000);
      await core.deployments.report(agent, "api", {
        ...report,
        state: "failed",
        version: "v2",
        error: "again",
      });
      const failed = (await core.deployments.syncs(agent.id)).find((s) => s.name === "api");
      // The failure's start is kept while it goes on failing.
      expect(failed?.failedSince?.getTime()).toBe(clock.now().getTime() - 60_000);
      await core.alerts.evaluate();
      expect(await deliveryAlerts()).toEqual(["open agent://web-host/syncs/api"]);
      const [alert] = await core.alerts.list({ kind: "delivery-failed" });
      expect(alert?.summary).toMatch(/sync api of agent web-host of version v2 failed.*again/);

      await core.deployments.report(agent, "api", { ...report, state: "in-sync", version: "v2" });
      await core.alerts.evaluate();
      expect(await deliveryAlerts()).toEqual(["resolved agent://web-host/syncs/api"]);
      expect(
        (await core.deployments.syncs(agent.id)).find((s) => s.name === "api")?.failedSince,
      ).toBeUndefined();
    });

    it("refuses a report with a relative path or a delivery without its certificate", async () => {
      const base = { source: "s", state: "in-sync" as const };
      await expect(core.deployments.report(agent, "x", { ...base, paths: ["etc/x.pem"] })).rejects.toThrow(
        /must be absolute/,
      );
      await expect(
        core.deployments.report(agent, "x", {
          ...base,
          paths: ["/x.pem"],
          delivered: { version: "v", at: clock.now(), chain: [] },
        }),
      ).rejects.toThrow(/needs the delivered certificate/);
      expect((await core.deployments.syncs(agent.id)).map((s) => s.name)).not.toContain("x");
    });

    it("answers a watch when a watched certificate gets a version, and not for others", async () => {
      const watch = createVersionWatch({ events: core.stores.events, pollMs: 20 });
      const since = await watch.latest();
      const signal = new AbortController().signal;
      const waiting = watch.wait([{ vaultName: "default", name: "WEB" }], since, 10_000, signal);
      await newVersion("other-name");
      await newVersion("web", "other");
      const made = await newVersion("web");
      const answer = await waiting;
      expect(answer.versions).toEqual([{ vaultName: "default", name: "web", version: made.version }]);
      expect(answer.seq).toBeGreaterThan(since);

      // A whole vault, as a tag selector watches it; nothing new after `answer.seq` until a version is made.
      const quiet = await watch.wait([{ vaultName: "other" }], answer.seq, 100, signal);
      expect(quiet.versions).toEqual([]);
      const later = watch.wait([{ vaultName: "other" }], quiet.seq, 10_000, signal);
      const another = await newVersion("anything", "other");
      expect((await later).versions.map((v) => v.version)).toEqual([another.version]);
    });

    it("lets go of a watch when its caller goes away", async () => {
      const watch = createVersionWatch({ events: core.stores.events, pollMs: 20 });
      const gone = new AbortController();
      const waiting = watch.wait(
        [{ vaultName: "default", name: "web" }],
        await watch.latest(),
        60_000,
        gone.signal,
      );
      gone.abort();
      expect((await waiting).versions).toEqual([]);
    });

    it("forgets an agent's syncs with the agent", async () => {
      const other = (await core.discovery.registerAgent("short-lived")).agent;
      await core.deployments.report(other, "web", { source: "s", state: "pending", paths: [] });
      await core.discovery.removeAgent("short-lived");
      expect(await core.deployments.syncs(other.id)).toEqual([]);
    });
  });
}
