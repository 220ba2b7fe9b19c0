import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certsOnly } from "../../src/crypto/pkcs7-certs.js";
import { DomainError } from "../../src/domain/errors.js";
import type { IssuanceGate } from "../../src/domain/rules/issuance-gate.js";
import { dumpAllRows } from "../support/backends.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr } from "../support/openssl-req.js";
import { readCertRep, scepClient } from "../support/scep-client.js";
import { tempDataDir } from "../support/server-process.js";

/** The rules as the gate applies them: one name is refused everywhere. */
const refusing: IssuanceGate = {
  async check(entry, scope, facts) {
    if (facts.sans.some((n) => n.value === "forbidden.example"))
      throw new DomainError(
        "BadParameter",
        `Rule no-forbidden refuses forbidden.example (${entry} profile ${scope.profile?.name})`,
        { reason: "PolicyViolation" },
      );
  },
};

/** What a bad request may leave behind: its own audit rows, nothing else. */
const AUDIT = ["audit_log", "audit_head", "audit_changes"];

interface Case {
  name: string;
  method: "GET" | "POST";
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
  status: number;
  says: RegExp;
}

/** EST and SCEP refuse bad input in their own format (text bodies; SCEP CertRep FAILUREs), never a 500. */
describe("EST and SCEP bad input", () => {
  let server: InProcess;
  let basic: string;
  let ra: Buffer;
  let caCertificate: Buffer;
  const inject = (c: {
    method: "GET" | "POST";
    url: string;
    headers?: Record<string, string>;
    payload?: string | Buffer;
  }) =>
    server.strongroom.app.inject({
      method: c.method,
      url: c.url,
      headers: c.headers ?? {},
      ...(c.payload !== undefined && { payload: c.payload }),
    });
  const rows = () => dumpAllRows(server.strongroom.core.storage, AUDIT);

  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false }, gate: refusing });
    const { core, admin } = server.strongroom;
    await core.ca.createRoot({ name: "bad-root", subject: "CN=Bad Input Root" });
    await core.enrollmentProfiles.create("est", { label: "devices", ca: "bad-root" });
    const phones = await core.enrollmentProfiles.create("scep", { label: "phones", ca: "bad-root" });
    await core.enrollmentProfiles.create("scep", { label: "held", ca: "bad-root", approval: true });
    ra = phones.ra?.certificate as Buffer;
    caCertificate = (await core.ca.get("bad-root")).certificate as Buffer;
    basic = `Basic ${Buffer.from(`${admin.clientId}:${admin.clientSecret}`).toString("base64")}`;
  }, 60_000);

  afterAll(async () => server?.stop());

  const est = (operation: string) => `/.well-known/est/devices/${operation}`;
  const pkcs10 = { "content-type": "application/pkcs10" };
  const ESTS: () => Case[] = () => [
    {
      name: "a body that is not DER",
      method: "POST",
      url: est("simpleenroll"),
      headers: { ...pkcs10, authorization: basic },
      payload: "bm90IGEgcmVxdWVzdA==",
      status: 400,
      says: /PKCS#10/,
    },
    {
      name: "binary garbage",
      method: "POST",
      url: est("simpleenroll"),
      headers: { ...pkcs10, authorization: basic },
      payload: Buffer.from([0x30, 0x82, 0xff, 0x00, 0x01]),
      status: 400,
      says: /PKCS#10/,
    },
    {
      name: "a PKCS#7 where a PKCS#10 belongs",
      method: "POST",
      url: est("simpleenroll"),
      headers: { ...pkcs10, authorization: basic },
      payload: certsOnly([caCertificate]).toString("base64"),
      status: 400,
      says: /PKCS#10/,
    },
    {
      name: "an empty body",
      method: "POST",
      url: est("simpleenroll"),
      headers: { ...pkcs10, authorization: basic },
      payload: "",
      status: 400,
      says: /PKCS#10/,
    },
    {
      name: "a wrong content type",
      method: "POST",
      url: est("simpleenroll"),
      headers: { "content-type": "image/png", authorization: basic },
      payload: "AAAA",
      status: 415,
      says: /Unsupported Media Type/i,
    },
    {
      name: "no credentials",
      method: "POST",
      url: est("simpleenroll"),
      headers: pkcs10,
      payload: "AAAA",
      status: 401,
      says: /client certificate/,
    },
    {
      name: "a Basic header that is not base64 of id:secret",
      method: "POST",
      url: est("serverkeygen"),
      headers: { ...pkcs10, authorization: "Basic !!!" },
      payload: "AAAA",
      status: 401,
      says: /client certificate|HTTP Basic/,
    },
    {
      name: "a re-enrollment without the certificate being renewed",
      method: "POST",
      url: est("simplereenroll"),
      headers: { ...pkcs10, authorization: basic },
      payload: "AAAA",
      status: 401,
      says: /simplereenroll needs/,
    },
    {
      name: "an unknown label",
      method: "GET",
      url: "/.well-known/est/nobody/cacerts",
      status: 404,
      says: /No EST profile labelled nobody/,
    },
  ];
  const SCEPS: () => Case[] = () => [
    {
      name: "a body that is not CMS",
      method: "POST",
      url: "/scep/phones?operation=PKIOperation",
      headers: { "content-type": "application/x-pki-message" },
      payload: Buffer.from("not a pkiMessage"),
      status: 400,
      says: /pkiMessage/,
    },
    {
      name: "a certs-only bundle, which has no signer",
      method: "POST",
      url: "/scep/phones/pkiclient.exe?operation=PKIOperation",
      headers: { "content-type": "application/x-pki-message" },
      payload: certsOnly([caCertificate]),
      status: 400,
      says: /lacks a signer/,
    },
    {
      name: "a wrong content type",
      method: "POST",
      url: "/scep/phones?operation=PKIOperation",
      headers: { "content-type": "text/html" },
      payload: "<html/>",
      status: 415,
      says: /Unsupported Media Type/i,
    },
    {
      name: "POST for another operation",
      method: "POST",
      url: "/scep/phones?operation=GetCACert",
      headers: { "content-type": "application/x-pki-message" },
      payload: Buffer.from([0x30, 0x00]),
      status: 400,
      says: /Only PKIOperation/,
    },
    {
      name: "an unknown operation",
      method: "GET",
      url: "/scep/phones?operation=Frobnicate",
      status: 400,
      says: /operation must be/,
    },
    {
      name: "PKIOperation over GET without a message",
      method: "GET",
      url: "/scep/phones?operation=PKIOperation",
      status: 400,
      says: /message parameter/,
    },
    {
      name: "a message parameter that is not base64 CMS",
      method: "GET",
      url: "/scep/phones?operation=PKIOperation&message=%%%",
      status: 400,
      says: /pkiMessage|not DER/,
    },
    {
      name: "an unknown label",
      method: "GET",
      url: "/scep/nobody?operation=GetCACaps",
      status: 404,
      says: /No SCEP profile labelled nobody/,
    },
  ];

  it("answers each bad EST or SCEP request with its status and a text body, and writes nothing", async () => {
    const before = await rows();
    for (const c of [...ESTS(), ...SCEPS()]) {
      const res = await inject(c);
      expect.soft({ case: c.name, status: res.statusCode }).toEqual({ case: c.name, status: c.status });
      expect.soft(res.headers["content-type"], c.name).toMatch(/^text\/plain/);
      expect.soft(res.body, c.name).toMatch(c.says);
    }
    expect(await rows()).toEqual(before);
  });

  it("renders a rules refusal as EST's 400 with a text body and SCEP's FAILURE badRequest, issuing nothing", async () => {
    const data = tempDataDir();
    try {
      opensslCsr(
        join(data.dir, "f.key"),
        join(data.dir, "f.csr"),
        "/CN=forbidden.example",
        "DNS:forbidden.example",
      );
      const der = execFileSync("openssl", ["req", "-in", join(data.dir, "f.csr"), "-outform", "DER"]);
      const est = await inject({
        method: "POST",
        url: "/.well-known/est/devices/simpleenroll",
        headers: { ...pkcs10, authorization: basic },
        payload: der.toString("base64"),
      });
      expect(est.statusCode).toBe(400);
      expect(est.headers["content-type"]).toMatch(/^text\/plain/);
      expect(est.body).toContain("Rule no-forbidden refuses forbidden.example (est profile devices)");

      const issuedBefore = (await server.strongroom.core.ca.listIssued("bad-root", 1000)).length;
      const client = await scepClient("forbidden.example");
      const { password } = await server.strongroom.core.enrollmentProfiles.newChallenge("phones");
      const csr = await client.csr(password, "forbidden.example");
      const rep = await pkiOperation("phones", await client.message("19", "tx-forbidden", csr, ra));
      expect(rep).toMatchObject({ pkiStatus: "2", failInfo: "2", verified: true });
      // The same request for a name the rule allows is issued: the name made the difference.
      const fresh = (await server.strongroom.core.enrollmentProfiles.newChallenge("phones")).password;
      const allowed = await client.csr(fresh, "allowed.example");
      const ok = await pkiOperation("phones", await client.message("19", "tx-allowed", allowed, ra));
      expect(ok).toMatchObject({ pkiStatus: "0", verified: true });
      expect((await server.strongroom.core.ca.listIssued("bad-root", 1000)).length).toBe(issuedBefore + 1);
    } finally {
      data.remove();
    }
  });

  /** POSTs a pkiMessage and reads the CertRep. */
  async function pkiOperation(label: string, message: Buffer) {
    const res = await inject({
      method: "POST",
      url: `/scep/${label}/pkiclient.exe?operation=PKIOperation`,
      headers: { "content-type": "application/x-pki-message" },
      payload: message,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/x-pki-message");
    return readCertRep(res.rawPayload);
  }

  it("answers signed pkiMessages it cannot honour with a CertRep FAILURE, and writes nothing", async () => {
    const client = await scepClient("bad.example");
    const challenge = (await server.strongroom.core.enrollmentProfiles.newChallenge("phones")).password;
    const otherRa = (await server.strongroom.core.enrollmentProfiles.get("scep", "held")).ra
      ?.certificate as Buffer;
    const before = await rows();
    const cases: { name: string; message: Buffer; failInfo: string }[] = [
      {
        name: "a malformed PKCS#10",
        message: await client.message("19", "tx-bad-csr", Buffer.from("not a csr"), ra),
        failInfo: "2",
      },
      {
        name: "a PKCS#10 with a wrong challenge",
        message: await client.message("19", "tx-wrong", await client.csr("wrong"), ra),
        failInfo: "2",
      },
      {
        name: "a PKCS#10 without a challenge",
        message: await client.message("19", "tx-none", await client.csr(), ra),
        failInfo: "2",
      },
      {
        name: "a RenewalReq signed by a certificate the CA never issued",
        message: await client.message("17", "tx-renew", await client.csr(challenge), ra),
        failInfo: "2",
      },
      {
        name: "a CertPoll for an unknown transaction",
        message: await client.message("20", "tx-unknown", client.issuerAndSubject(caCertificate), ra),
        failInfo: "4",
      },
      {
        name: "an envelope for another RA",
        message: await client.message("19", "tx-other", await client.csr(challenge), otherRa),
        failInfo: "1",
      },
    ];
    for (const c of cases) {
      const rep = await pkiOperation("phones", c.message);
      expect
        .soft({ case: c.name, status: rep.pkiStatus, failInfo: rep.failInfo, verified: rep.verified })
        .toEqual({
          case: c.name,
          status: "2",
          failInfo: c.failInfo,
          verified: true,
        });
      expect.soft(rep.messageType, c.name).toBe("3");
    }
    expect(await rows()).toEqual(before);
  });

  it("answers CertPoll with the certificate once issued, and with PENDING while approval is awaited", async () => {
    const core = server.strongroom.core;
    const client = await scepClient("poll.example");
    const issued = await pkiOperation(
      "phones",
      await client.message(
        "19",
        "tx-issued",
        await client.csr((await core.enrollmentProfiles.newChallenge("phones")).password),
        ra,
      ),
    );
    expect(issued).toMatchObject({ pkiStatus: "0", transactionId: "tx-issued", verified: true });
    const polledIssued = await pkiOperation(
      "phones",
      await client.message("20", "tx-issued", client.issuerAndSubject(caCertificate), ra),
    );
    expect(polledIssued).toMatchObject({ pkiStatus: "0", messageType: "3", transactionId: "tx-issued" });
    const record = (await core.ca.listIssued("bad-root", 1000)).find((i) => i.subject === "CN=poll.example");
    expect(record?.status).toBe("good");
    await server.strongroom.scheduler.runOnce("inventory");
    const fingerprint = createHash("sha256")
      .update(record?.der ?? Buffer.alloc(0))
      .digest("hex");
    expect((await core.inventory.show(fingerprint)).subject).toBe("CN=poll.example");

    const heldRa = (await core.enrollmentProfiles.get("scep", "held")).ra?.certificate as Buffer;
    const { password } = await core.enrollmentProfiles.newChallenge("held");
    const pending = await pkiOperation(
      "held",
      await client.message("19", "tx-held", await client.csr(password), heldRa),
    );
    expect(pending).toMatchObject({ pkiStatus: "3", transactionId: "tx-held", verified: true });
    const polled = await pkiOperation(
      "held",
      await client.message("20", "tx-held", client.issuerAndSubject(caCertificate), heldRa),
    );
    expect(polled).toMatchObject({ pkiStatus: "3", messageType: "3", transactionId: "tx-held" });
  });
});
