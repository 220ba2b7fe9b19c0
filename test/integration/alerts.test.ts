import { EventGridDeserializer } from "@azure/eventgrid";
import { HTTP } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlertEventData } from "../../src/domain/alerts/model.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";
import { type CapturedMail, smtpCapture } from "../support/smtp-capture.js";
import { receiver } from "../support/webhook-receiver.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;
const ALERT_TYPES = [
  "Strongroom.Alerts.AlertOpened",
  "Strongroom.Alerts.AlertEscalated",
  "Strongroom.Alerts.AlertResolved",
];

describe("alerts", () => {
  const clock = fakeClock(new Date("2026-05-01T00:00:00Z"));
  const data = tempDataDir();
  const endpoint = receiver();
  const smtp = smtpCapture();
  const mails = smtp.mails;
  let server: InProcess;

  const admin = async (method: "GET" | "POST", url: string, body?: unknown) => {
    const res = await server.strongroom.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${await server.token()}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: res.body, json: () => res.json() };
  };
  const run = async (...jobs: string[]) => {
    for (const job of jobs) await server.strongroom.scheduler.runOnce(job);
  };
  /** Alert events each consumer got, parsed by the SDK of its schema. */
  const gridEvents = async () =>
    (
      await Promise.all(
        endpoint.received
          .filter((r) => r.path === "/grid")
          .map((r) => new EventGridDeserializer().deserializeEventGridEvents(r.body)),
      )
    ).flat();
  const cloudEvents = () =>
    endpoint.received
      .filter((r) => r.path === "/ce")
      .flatMap((r) => {
        const e = HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body });
        return Array.isArray(e) ? e : [e];
      });
  const certificate = (name: string, months: number) =>
    server.createCertificate(name, {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: `CN=${name}.example`, validity_months: months },
        lifetime_actions: [{ trigger: { days_before_expiry: 1 }, action: { action_type: "EmailContacts" } }],
      },
      tags: { contact: "owner@example.com" },
    });

  beforeAll(async () => {
    const smtpPort = await smtp.start();
    const base = await endpoint.start();
    server = await startInProcess({
      clock,
      dataDir: data.dir,
      flags: {
        jobs: false,
        smtpHost: "127.0.0.1",
        smtpPort,
        smtpFrom: "alerts@strongroom.test",
      },
    });
    await server.kv({
      method: "PUT",
      url: `/certificates/contacts?${V}`,
      body: { contacts: [{ email: "pki@example.com", name: "PKI" }] },
    });
    for (const [name, path, schema] of [
      ["grid", "/grid", "EventGridSchema"],
      ["ce", "/ce", "CloudEventSchemaV1_0"],
      ["chat", "/slack", "SlackSchema"],
      ["teams", "/teams", "TeamsSchema"],
    ] as const) {
      const created = await admin("POST", "/admin/webhooks", {
        name,
        endpoint: `${base}${path}`,
        eventTypes: ALERT_TYPES,
        schema,
      });
      expect(created.status).toBe(201);
    }
    // The digest starts from the outbox's current end: what happened before it is not news.
    await run("alert-digest");
  });
  afterAll(async () => {
    await server?.stop();
    await endpoint.stop();
    await smtp.stop();
    data.remove();
  });

  it("opens an expiring alert at each threshold once, delivers each change once, and resolves it after renewal", async () => {
    expect((await certificate("web", 2)).statusCode).toBe(202);
    await run("inventory", "alerts");
    expect((await admin("GET", "/admin/alerts")).json().value).toEqual([]);

    const levels: number[] = [];
    for (const daysLater of [31, 1, 15, 1, 6, 1]) {
      clock.advance(daysLater * DAY_MS);
      await run("inventory", "alerts", "alerts");
      const [alert] = (await admin("GET", "/admin/alerts?kind=expiring")).json().value as AlertEventData[];
      levels.push(alert?.level ?? 0);
    }
    expect(levels).toEqual([30, 30, 14, 14, 7, 7]);

    // A renewal: the new version supersedes the old in the vault, and the condition ends.
    expect((await certificate("web", 3)).statusCode).toBe(202);
    await run("inventory", "alerts", "webhooks", "webhooks");
    const [resolved] = (await admin("GET", "/admin/alerts?state=resolved")).json().value as AlertEventData[];
    expect(resolved).toMatchObject({ kind: "expiring", state: "resolved", resolvedBy: "system", level: 7 });
    expect((await admin("GET", "/admin/alerts")).json().value).toEqual([]);

    const grid = await gridEvents();
    expect(grid.map((e) => [e.eventType, (e.data as AlertEventData).level])).toEqual([
      ["Strongroom.Alerts.AlertOpened", 30],
      ["Strongroom.Alerts.AlertEscalated", 14],
      ["Strongroom.Alerts.AlertEscalated", 7],
      ["Strongroom.Alerts.AlertResolved", 7],
    ]);
    expect(grid[0]?.topic).toBe("/strongroom/alerts");
    expect(grid[0]?.data).toMatchObject({
      kind: "expiring",
      subject: "CN=web.example",
      vaultName: "default",
      ownerContact: "owner@example.com",
    });
    const ce = cloudEvents();
    expect(ce.map((e) => e.type)).toEqual(grid.map((e) => e.eventType));
    expect(new Set(ce.map((e) => e.id)).size).toBe(4);
    expect((ce[0]?.data as AlertEventData | undefined)?.id).toBe(resolved?.id);

    const slack = endpoint.received.filter((r) => r.path === "/slack").map((r) => JSON.parse(r.body));
    expect(slack).toHaveLength(4);
    expect(slack[0].text).toMatch(/^Alert opened: CN=web\.example: CN=web\.example expires within 30 days/);
    expect(slack[0].blocks[0]).toMatchObject({ type: "header" });
    const teams = endpoint.received.filter((r) => r.path === "/teams").map((r) => JSON.parse(r.body));
    expect(teams[3].attachments[0]).toMatchObject({ contentType: "application/vnd.microsoft.card.adaptive" });
    expect(teams[3].attachments[0].content.body[0].text).toBe("Alert resolved: CN=web.example");
  });

  it("mails one digest to the owner contact and one to the vault's certificate contacts", async () => {
    await run("alert-digest");
    const recipients = mails.map((m) => m.to.join(",")).sort();
    expect(recipients).toEqual(["owner@example.com", "pki@example.com"]);
    const mail = mails[0] as CapturedMail;
    expect(mail.raw).toMatch(/Subject: Strongroom alerts: 1 opened, 2 escalated, 1 resolved/);
    expect(mail.raw).toMatch(/From: alerts@strongroom\.test/);
    expect(mail.raw).toMatch(/\[escalated\] expiring \(7 days\)/);
    await run("alert-digest");
    expect(mails).toHaveLength(2);
  });

  it("opens an expired alert for a certificate still in use, and acknowledging and resolving are audited", async () => {
    expect((await certificate("lapsed", 1)).statusCode).toBe(202);
    clock.advance(40 * DAY_MS);
    await run("inventory", "alerts");
    const open = (await admin("GET", "/admin/alerts")).json().value as AlertEventData[];
    const expired = open.find((a) => a.kind === "expired" && a.subject === "CN=lapsed.example");
    expect(expired?.state).toBe("open");

    const acked = await admin("POST", `/admin/alerts/${expired?.id}/acknowledge`, { note: "replacing it" });
    expect(acked.status).toBe(200);
    expect(acked.json()).toMatchObject({ state: "acknowledged", note: "replacing it" });
    expect((await admin("POST", `/admin/alerts/${expired?.id}/acknowledge`, {})).status).toBe(409);

    // Resolved by hand while still expired and in use: the next evaluation opens it again.
    const resolved = await admin("POST", `/admin/alerts/${expired?.id}/resolve`, {});
    expect(resolved.json()).toMatchObject({ state: "resolved" });
    expect(resolved.json().resolvedBy).not.toBe("system");
    await run("alerts");
    expect((await admin("GET", `/admin/alerts/${expired?.id}`)).json()).toMatchObject({
      state: "open",
      occurrences: 2,
    });

    await server.strongroom.core.audit.drain();
    const rows = [];
    for await (const row of server.strongroom.core.audit.records(0))
      if (row.operation.startsWith("Alert")) rows.push(row);
    expect(rows.filter((r) => r.outcome === "success").map((r) => r.operation)).toEqual(
      expect.arrayContaining(["AlertAcknowledge", "AlertResolve"]),
    );
  });

  it("refuses bad input with Key Vault's error format and changes nothing", async () => {
    for (const [url, status] of [
      ["/admin/alerts?state=closed", 400],
      ["/admin/alerts?kind=bogus", 400],
      ["/admin/alerts?fingerprint=xyz", 400],
      ["/admin/alerts/no-such-alert", 404],
      ["/admin/reports/posture?format=pdf", 400],
    ] as const) {
      const res = await admin("GET", url);
      expect(res.status, url).toBe(status);
      expect(res.json().error.code, url).toBeTypeOf("string");
    }
    const before = (await admin("GET", "/admin/alerts?state=all")).body;
    expect((await admin("POST", "/admin/alerts/no-such-alert/resolve", {})).status).toBe(404);
    expect((await admin("POST", "/admin/alerts/x/acknowledge", { note: 5 })).status).toBe(400);
    expect((await admin("GET", "/admin/alerts?state=all")).body).toBe(before);
  });
});
