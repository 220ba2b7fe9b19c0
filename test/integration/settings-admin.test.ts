import { createHmac } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, assignRole, createPrincipal, type Json, tokenFor } from "../support/access.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";
import { smtpCapture } from "../support/smtp-capture.js";
import { receiver } from "../support/webhook-receiver.js";

const SECRET = "shared-signing-secret";
const LOGIN = { user: "mailer", password: "smtp-password-never-shown" };
const REFUSED = "nobody@refused.test";

/** A loopback port nothing listens on: taken, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`webhook and SMTP settings in the admin API (${backend.name})`, () => {
    const endpoint = receiver();
    const smtp = smtpCapture({ login: LOGIN, refuse: REFUSED });
    let server: InProcess;
    let url: string;
    let drop: () => Promise<void> = async () => {};
    const admin = (method: "GET" | "POST" | "DELETE", path: string, body?: unknown) =>
      adminCall(server, method, path, body);
    const createWebhook = async (name: string, target: string, extra: Record<string, unknown> = {}) => {
      const res = await admin("POST", "/admin/webhooks", { name, endpoint: target, ...extra });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body as { id: string; status: string };
    };

    beforeAll(async () => {
      url = await endpoint.start();
      const smtpPort = await smtp.start();
      const database = await backend.database();
      drop = async () => database?.drop();
      server = await startInProcess({
        flags: {
          jobs: false,
          smtpHost: "127.0.0.1",
          smtpPort,
          smtpUser: LOGIN.user,
          smtpPassword: LOGIN.password,
          smtpFrom: "strongroom@settings.test",
        },
        ...(database && { database: database.url }),
      });
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
      await drop();
      await endpoint.stop();
      await smtp.stop();
    });

    it("sends a signed test delivery to a webhook's endpoint and reports the status it answered", async () => {
      const hook = await createWebhook("test-target", `${url}/hooks/ok`, { secret: SECRET });
      const before = endpoint.received.length;
      const res = await admin("POST", `/admin/webhooks/${hook.id}/test`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ delivered: true, status: 200 });
      const got = endpoint.received.slice(before);
      expect(got).toHaveLength(1);
      const [delivery] = got as [(typeof got)[number]];
      expect(delivery.path).toBe("/hooks/ok");
      expect(delivery.headers["aeg-event-type"]).toBe("Notification");
      expect(delivery.headers["x-strongroom-signature"]).toBe(
        `sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`,
      );
      const [event] = JSON.parse(delivery.body) as Json[];
      expect(event).toMatchObject({
        eventType: "Strongroom.Webhooks.WebhookTest",
        topic: "/strongroom/webhooks",
        subject: "webhooks/test-target",
        data: { Subscription: "test-target" },
      });
      // A test neither validates the subscription nor leaves a delivery behind.
      expect((await admin("GET", `/admin/webhooks/${hook.id}`)).body.status).toBe(hook.status);
      expect((await admin("GET", `/admin/webhooks/${hook.id}/deadletters`)).body.value).toEqual([]);
    });

    it("sends a test delivery as a CloudEvent to a CloudEvents subscription", async () => {
      await createWebhook("cloud-target", `${url}/hooks/cloud`, {
        schema: "CloudEventSchemaV1_0",
      });
      const before = endpoint.received.length;
      expect((await admin("POST", `/admin/webhooks/cloud-target/test`)).body).toEqual({
        delivered: true,
        status: 200,
      });
      const [delivery] = endpoint.received.slice(before);
      expect(delivery?.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
      expect(JSON.parse(delivery?.body ?? "{}")).toMatchObject({
        specversion: "1.0",
        type: "Strongroom.Webhooks.WebhookTest",
        subject: "webhooks/cloud-target",
      });
    });

    it("reports an endpoint's refusal by its status and an unreachable one by the error", async () => {
      const hook = await createWebhook("down-target", `${url}/hooks/down`);
      endpoint.state.down = true;
      try {
        expect((await admin("POST", `/admin/webhooks/${hook.id}/test`)).body).toEqual({
          delivered: false,
          status: 503,
        });
      } finally {
        endpoint.state.down = false;
      }
      const gone = await createWebhook("gone-target", `http://127.0.0.1:${await closedPort()}/hooks`);
      const res = await admin("POST", `/admin/webhooks/${gone.id}/test`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ delivered: false, error: expect.stringMatching(/ECONNREFUSED/) });
    });

    it("answers 404 for a test delivery to an unknown subscription", async () => {
      const res = await admin("POST", "/admin/webhooks/no-such-hook/test");
      expect(res.status).toBe(404);
      expect(res.body.error.message).toMatch(/No webhook subscription no-such-hook/);
    });

    it("audits a test delivery with the caller as the actor and refuses it to a Reader", async () => {
      await createWebhook("audited-target", `${url}/hooks/audited`);
      await admin("POST", "/admin/webhooks/audited-target/test");
      const [row] = await server.strongroom.core.audit.search(
        { operation: "WebhookTest", principal: server.strongroom.admin.clientId },
        { limit: 1 },
      );
      expect(row).toMatchObject({ outcome: "success", status: 200 });

      const reader = await createPrincipal(server, "settings-reader");
      await assignRole(server, reader.id, "Strongroom Reader", "/");
      const token = await tokenFor(server, reader.clientId, reader.clientSecret);
      const before = endpoint.received.length;
      const refused = await server.strongroom.app.inject({
        method: "POST",
        url: "/admin/webhooks/audited-target/test",
        headers: { authorization: `Bearer ${token}` },
      });
      expect(refused.statusCode).toBe(403);
      expect(endpoint.received.length).toBe(before);
      const shown = await server.strongroom.app.inject({
        method: "GET",
        url: "/admin/smtp",
        headers: { authorization: `Bearer ${token}` },
      });
      expect(shown.statusCode).toBe(200);
    });

    it("shows the SMTP settings without the password", async () => {
      const res = await admin("GET", "/admin/smtp");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        configured: true,
        host: "127.0.0.1",
        port: expect.any(Number),
        secure: false,
        user: LOGIN.user,
        from: "strongroom@settings.test",
        passwordSet: true,
      });
      expect(JSON.stringify(res.body)).not.toContain(LOGIN.password);
    });

    it("sends a test mail through the SMTP server and reports its answer", async () => {
      const before = smtp.mails.length;
      const res = await admin("POST", "/admin/smtp/test", { to: "ops@settings.test" });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ sent: true, response: expect.stringMatching(/^250 /) });
      const mails = smtp.mails.slice(before);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.to).toEqual(["ops@settings.test"]);
      expect(mails[0]?.raw).toMatch(/Subject: Strongroom test mail/);
      expect(mails[0]?.raw).toMatch(/From: strongroom@settings\.test/);
    });

    it("reports the SMTP server's refusal of a recipient", async () => {
      const before = smtp.mails.length;
      const res = await admin("POST", "/admin/smtp/test", { to: REFUSED });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ sent: false, error: expect.stringMatching(/550.*unavailable/) });
      expect(smtp.mails.length).toBe(before);
    });

    it("refuses a test mail to something that is not one address with 400", async () => {
      for (const to of ["not-an-address", "a@b.test, c@d.test"]) {
        const res = await admin("POST", "/admin/smtp/test", { to });
        expect(res.status, to).toBe(400);
        expect(res.body.error.message).toMatch(/is not one e-mail address/);
      }
      expect((await admin("POST", "/admin/smtp/test", {})).status).toBe(400);
    });
  });
}

describe("the SMTP settings without an SMTP server", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false } });
  });
  afterAll(() => server?.stop());

  it("say so, and a test mail is refused with 409", async () => {
    expect((await adminCall(server, "GET", "/admin/smtp")).body).toEqual({ configured: false });
    const res = await adminCall(server, "POST", "/admin/smtp/test", { to: "ops@settings.test" });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/No SMTP server is configured/);
  });
});

describe("a test mail to an SMTP server that accepts the connection and never answers", () => {
  let server: InProcess;
  const silent = createServer(() => {});
  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    server = await startInProcess({
      flags: {
        jobs: false,
        smtpHost: "127.0.0.1",
        smtpPort: (silent.address() as { port: number }).port,
        smtpTimeoutMs: 1_000,
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
    silent.close();
  });

  it("gives up after smtpTimeoutMs and says which server did not answer and what to check", async () => {
    const started = Date.now();
    const res = await adminCall(server, "POST", "/admin/smtp/test", { to: "ops@settings.test" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      sent: false,
      error: expect.stringMatching(
        /^The SMTP server 127\.0\.0\.1:\d+ did not answer within 1000 ms .*smtpTimeoutMs$/,
      ),
    });
    // nodemailer's own greeting timeout is 30 s: the answer within 15 s shows the setting was used.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
