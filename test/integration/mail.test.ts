import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;

interface Received {
  to: string[];
  raw: string;
}

describe("mail to certificate contacts", () => {
  const clock = fakeClock(new Date("2026-05-01T00:00:00Z"));
  const received: Received[] = [];
  let smtp: SMTPServer;
  let server: InProcess;

  beforeAll(async () => {
    // A real SMTP server in this process.
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString(),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    server = await startInProcess({
      clock,
      flags: { jobs: false, smtpHost: "127.0.0.1", smtpPort: port, smtpFrom: "vault@strongroom.test" },
    });
    await server.kv({
      method: "PUT",
      url: `/certificates/contacts?${V}`,
      body: { contacts: [{ email: "pki@example.com", name: "PKI" }] },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  const run = async (...jobs: string[]) => {
    for (const job of jobs) await server.strongroom.scheduler.runOnce(job);
  };

  it("mails the contacts when an EmailContacts action falls due, saying which certificate, which vault and when", async () => {
    await server.createCertificate("mailed", {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: "CN=mailed", validity_months: 1 },
        lifetime_actions: [{ trigger: { days_before_expiry: 10 }, action: { action_type: "EmailContacts" } }],
      },
    });
    await run("renewals", "mail");
    expect(received).toHaveLength(0);
    clock.advance(22 * DAY_MS);
    await run("renewals", "mail");
    await run("renewals", "mail");
    expect(received).toHaveLength(1);
    const mail = received[0] as Received;
    expect(mail.to).toEqual(["pki@example.com"]);
    expect(mail.raw).toMatch(/Subject: Certificate mailed in vault default expires on/);
    expect(mail.raw).toMatch(/From: vault@strongroom\.test/);
    expect(mail.raw).toMatch(/text\/html/);
    expect(mail.raw).toMatch(/create a new version or merge a renewed certificate/);
  });

  it("mails when a renewal fails, while the old version is still valid", async () => {
    await server.kv({
      method: "PUT",
      url: `/certificates/issuers/nowhere?${V}`,
      body: { provider: "NoSuchProvider" },
    });
    await server.createCertificate("failing", {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: "CN=failing", validity_months: 1 },
      },
    });
    await server.kv({
      method: "PATCH",
      url: `/certificates/failing/policy?${V}`,
      body: { issuer: { name: "nowhere" } },
    });
    clock.advance(27 * DAY_MS);
    await run("renewals", "mail");
    const failure = received.find((m) => /Renewal of certificate failing/.test(m.raw));
    expect(failure?.raw).toMatch(/No issuer adapter serves provider/);
    expect(failure?.raw).toMatch(/is valid until/);
  });
});
