import { createHmac } from "node:crypto";
import { EventGridDeserializer } from "@azure/eventgrid";
import { HTTP } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";
import { type Received, receiver } from "../support/webhook-receiver.js";

const V = "api-version=7.6";
const HOUR_MS = 3_600_000;

describe("webhooks", () => {
  const clock = fakeClock(new Date("2026-03-01T00:00:00Z"));
  const data = tempDataDir();
  const endpoint = receiver();
  let base: string;
  let server: InProcess;

  const admin = async (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown) => {
    const res = await server.strongroom.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${await server.token()}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, json: () => res.json() };
  };
  const deliver = () => server.strongroom.scheduler.runOnce("webhooks");

  beforeAll(async () => {
    base = await endpoint.start();
    server = await startInProcess({ clock, dataDir: data.dir, flags: { jobs: false } });
  });
  afterAll(async () => {
    await server?.stop();
    await endpoint.stop();
    data.remove();
  });

  it("delivers Event Grid events that EventGridDeserializer parses, signed with the subscription's secret", async () => {
    const created = await admin("POST", "/admin/webhooks", {
      name: "grid",
      endpoint: `${base}/grid`,
      eventTypes: ["Microsoft.KeyVault.SecretNewVersionCreated"],
      schema: "EventGridSchema",
      secret: "shared-hmac-secret",
    });
    expect(created.status).toBe(201);
    expect(created.json()).toMatchObject({ status: "pending-validation", signed: true });
    expect(JSON.stringify(created.json())).not.toContain("shared-hmac-secret");

    await server.kv({ method: "PUT", url: `/secrets/announced?${V}`, body: { value: "v" } });
    await server.kv({ method: "POST", url: `/keys/not-subscribed/create?${V}`, body: { kty: "EC" } });
    await deliver();
    expect((await admin("GET", "/admin/webhooks/grid")).json().status).toBe("active");

    const grid = endpoint.received.filter((r) => r.path === "/grid");
    expect(grid).toHaveLength(1);
    const delivery = grid[0] as Received;
    const expected = `sha256=${createHmac("sha256", "shared-hmac-secret").update(delivery.body).digest("hex")}`;
    expect(delivery.headers["x-strongroom-signature"]).toBe(expected);
    const [event] = await new EventGridDeserializer().deserializeEventGridEvents(delivery.body);
    expect(event?.eventType).toBe("Microsoft.KeyVault.SecretNewVersionCreated");
    expect(event?.subject).toBe("announced");
    expect(event?.data).toMatchObject({
      VaultName: "default",
      ObjectType: "Secret",
      ObjectName: "announced",
    });
    expect((event?.data as { Id?: string } | undefined)?.Id).toMatch(/\/secrets\/announced\/[0-9a-f]{32}$/);
  });

  it("delivers CloudEvents that the cloudevents package parses", async () => {
    expect(
      (
        await admin("POST", "/admin/webhooks", {
          name: "ce",
          endpoint: `${base}/ce`,
          schema: "CloudEventSchemaV1_0",
          subjectBeginsWith: "cloud",
        })
      ).status,
    ).toBe(201);
    await deliver();
    await server.kv({ method: "PUT", url: `/secrets/cloudy?${V}`, body: { value: "v" } });
    await server.kv({ method: "PUT", url: `/secrets/not-cloudy?${V}`, body: { value: "v" } });
    await deliver();
    const ce = endpoint.received.filter((r) => r.path === "/ce");
    expect(ce).toHaveLength(1);
    const parsed = HTTP.toEvent({ headers: ce[0]?.headers as Record<string, string>, body: ce[0]?.body });
    const event = Array.isArray(parsed) ? parsed[0] : parsed;
    expect(event?.type).toBe("Microsoft.KeyVault.SecretNewVersionCreated");
    expect(event?.subject).toBe("cloudy");
    expect(event?.source).toBe("/strongroom/vaults/default");
  });

  it("retries an endpoint that is down, dead-letters after a day, replays, and loses nothing across a restart", async () => {
    endpoint.state.down = true;
    await server.kv({ method: "PUT", url: `/secrets/during-outage?${V}`, body: { value: "v" } });
    await deliver();
    const pending = () =>
      endpoint.received.filter((r) => r.path === "/grid" && r.body.includes("during-outage"));

    // A restart in the middle of the outage: the delivery lives in the database.
    await server.stop();
    server = await startInProcess({ clock, dataDir: data.dir, flags: { jobs: false } });

    for (let hour = 0; hour < 26; hour++) {
      clock.advance(HOUR_MS);
      await deliver();
    }
    expect(pending()).toHaveLength(0);
    const dead = (await admin("GET", "/admin/webhooks/grid/deadletters")).json().value;
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ objectName: "during-outage", lastError: "HTTP 503" });
    expect(dead[0].attempts).toBeGreaterThan(5);

    endpoint.state.down = false;
    expect((await admin("POST", "/admin/webhooks/grid/deadletters/replay")).json()).toEqual({ replayed: 1 });
    await deliver();
    expect(pending()).toHaveLength(1);
    expect((await admin("GET", "/admin/webhooks/grid/deadletters")).json().value).toHaveLength(0);
  });

  it("refuses a subscription with an unknown event type or schema", async () => {
    expect(
      (await admin("POST", "/admin/webhooks", { name: "bad", endpoint: `${base}/x`, eventTypes: ["Nope"] }))
        .status,
    ).toBe(400);
    expect(
      (await admin("POST", "/admin/webhooks", { name: "bad", endpoint: `${base}/x`, schema: "Other" }))
        .status,
    ).toBe(400);
    expect((await admin("POST", "/admin/webhooks", { name: "bad", endpoint: "ftp://x" })).status).toBe(400);
  });
});

describe("a webhook endpoint that fails its handshake", () => {
  const clock = fakeClock(new Date("2026-03-01T00:00:00Z"));
  const endpoint = receiver();
  let server: InProcess;
  let base: string;
  beforeAll(async () => {
    base = await endpoint.start();
    server = await startInProcess({ clock, flags: { jobs: false } });
  });
  afterAll(async () => {
    await server?.stop();
    await endpoint.stop();
  });

  it("is tried again an hour later, and at once after its endpoint changes", async () => {
    // Tokens last an hour of the server's clock, which this test moves past: one per call.
    const headers = async () => ({
      authorization: `Bearer ${await server.token()}`,
      "content-type": "application/json",
    });
    const status = async () =>
      (
        await server.strongroom.app.inject({
          method: "GET",
          url: "/admin/webhooks/late",
          headers: await headers(),
        })
      ).json().status;
    endpoint.state.down = true;
    await server.strongroom.app.inject({
      method: "POST",
      url: "/admin/webhooks",
      headers: await headers(),
      payload: JSON.stringify({ name: "late", endpoint: `${base}/late` }),
    });
    await server.strongroom.scheduler.runOnce("webhooks");
    expect(await status()).toBe("validation-failed");
    endpoint.state.down = false;
    clock.advance(30 * 60_000);
    await server.strongroom.scheduler.runOnce("webhooks");
    expect(await status()).toBe("validation-failed");
    clock.advance(31 * 60_000);
    await server.strongroom.scheduler.runOnce("webhooks");
    expect(await status()).toBe("active");

    await server.strongroom.app.inject({
      method: "PATCH",
      url: "/admin/webhooks/late",
      headers: await headers(),
      payload: JSON.stringify({ endpoint: "http://127.0.0.1:9/unreachable" }),
    });
    await server.strongroom.scheduler.runOnce("webhooks");
    expect(await status()).toBe("validation-failed");
  });
});
