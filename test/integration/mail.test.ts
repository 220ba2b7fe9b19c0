import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { type CapturedMail, smtpCapture } from "../support/smtp-capture.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;

describe("mail to certificate contacts", () => {
  const clock = fakeClock(new Date("2026-05-01T00:00:00Z"));
  const smtp = smtpCapture();
  const received = smtp.mails;
  let server: InProcess;

  beforeAll(async () => {
    const port = await smtp.start();
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
    await smtp.stop();
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
    const mail = received[0] as CapturedMail;
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
