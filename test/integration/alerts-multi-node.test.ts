import { randomBytes } from "node:crypto";
import { EventGridDeserializer } from "@azure/eventgrid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import type { AlertEventData } from "../../src/domain/alerts/model.js";
import { type Core, createJobs, openCore } from "../../src/main.js";
import { fakeClock } from "../support/in-process.js";
import { testCertificate } from "../support/inventory-certs.js";
import { createTestDatabase, postgresAvailable } from "../support/postgres.js";
import { tempDataDir } from "../support/server-process.js";
import { receiver } from "../support/webhook-receiver.js";

const DAY_MS = 86_400_000;
const COUNT = 25;

describe.skipIf(!postgresAvailable)("alerts on two nodes sharing one PostgreSQL database", () => {
  const clock = fakeClock(new Date("2026-06-01T00:00:00Z"));
  const dirs = [tempDataDir(), tempDataDir()];
  const endpoint = receiver();
  let drop: () => Promise<void>;
  let nodes: Core[];
  let schedulers: ReturnType<typeof createJobs>[];

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    const masterKey = randomBytes(32).toString("base64");
    nodes = [];
    for (const dir of dirs) {
      const config = loadConfig({
        env: {},
        flags: { dataDir: dir.dir, database: database.url, masterKey, logLevel: "silent", jobs: false },
      });
      nodes.push(await openCore(config, clock));
    }
    schedulers = nodes.map((node) => createJobs(node));
    const [first] = nodes as [Core];
    const base = await endpoint.start();
    await first.webhooks.create({
      name: "alerts",
      endpoint: `${base}/grid`,
      eventTypes: ["Strongroom.Alerts.AlertOpened", "Strongroom.Alerts.AlertEscalated"],
      schema: "EventGridSchema",
    });
    const observations = [];
    for (let i = 0; i < COUNT; i++) {
      const cert = await testCertificate({
        subject: `CN=node-${i}.example`,
        notAfter: new Date(clock.now().getTime() + 20 * DAY_MS),
      });
      observations.push({
        der: cert.der,
        location: `tls://10.9.0.${i}:443`,
        source: "tls" as const,
        seenAt: clock.now(),
      });
    }
    await first.inventory.observe(observations);
  }, 120_000);

  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await drop?.();
    await endpoint.stop();
    for (const dir of dirs) dir.remove();
  });

  /** Both nodes evaluate at the same moment, past the scheduler's lease: only the alerts' keys keep them apart. */
  const evaluateOnBoth = () => Promise.all(nodes.map((node) => node.alerts.evaluate()));
  const deliverFromBoth = async () => {
    for (let round = 0; round < 3; round++) await Promise.all(schedulers.map((s) => s.runOnce("webhooks")));
  };

  it("opens and escalates each alert once and delivers each change once, however both nodes race", async () => {
    const opened = await evaluateOnBoth();
    expect(opened.reduce((n, o) => n + o.opened, 0)).toBe(COUNT);
    expect((await evaluateOnBoth()).reduce((n, o) => n + o.opened + o.escalated, 0)).toBe(0);
    await deliverFromBoth();

    clock.advance(12 * DAY_MS);
    const escalated = await evaluateOnBoth();
    expect(escalated.reduce((n, o) => n + o.escalated, 0)).toBe(COUNT);
    await deliverFromBoth();

    const events = (
      await Promise.all(
        endpoint.received.map((r) => new EventGridDeserializer().deserializeEventGridEvents(r.body)),
      )
    ).flat();
    expect(events).toHaveLength(2 * COUNT);
    expect(new Set(events.map((e) => e.id)).size).toBe(2 * COUNT);
    const perAlert = new Map<string, string[]>();
    for (const e of events) {
      const id = (e.data as AlertEventData).id;
      perAlert.set(id, [...(perAlert.get(id) ?? []), `${e.eventType}/${(e.data as AlertEventData).level}`]);
    }
    expect(perAlert.size).toBe(COUNT);
    for (const changes of perAlert.values())
      expect(changes.sort()).toEqual([
        "Strongroom.Alerts.AlertEscalated/14",
        "Strongroom.Alerts.AlertOpened/30",
      ]);
    const [first] = nodes as [Core];
    expect(await first.alerts.list({ state: "all" })).toHaveLength(COUNT);
  });
});
