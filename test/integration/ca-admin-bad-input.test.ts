import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";

describe("the private CA's admin API and PKI listener refuse bad input plainly", () => {
  let server: InProcess;
  const admin = (method: "GET" | "POST", url: string, body?: unknown, auth = true) =>
    server.kv({ method, url, body, auth });
  const pki = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${server.strongroom.pkiPort}${path}`, init);

  beforeAll(async () => {
    server = await startInProcess();
    const root = await admin("POST", "/admin/cas", {
      name: "root",
      kind: "root",
      subject: "CN=Bad Input Root",
    });
    expect(root.statusCode, root.body).toBe(201);
  });
  afterAll(() => server?.stop());

  it.each([
    ["an unknown key algorithm", { name: "x", kind: "root", subject: "CN=X", keyAlgorithm: "Ed448" }, 400],
    ["a subject that is no DN", { name: "x", kind: "root", subject: "just text" }, 400],
    ["a root with a parent", { name: "x", kind: "root", subject: "CN=X", parent: "root" }, 400],
    [
      "an intermediate with neither parent nor external",
      { name: "x", kind: "intermediate", subject: "CN=X" },
      400,
    ],
    [
      "an intermediate under an unknown CA",
      { name: "x", kind: "intermediate", subject: "CN=X", parent: "nope" },
      404,
    ],
    ["a taken name", { name: "ROOT", kind: "root", subject: "CN=X" }, 409],
    [
      "a malformed IP constraint",
      { name: "x", kind: "root", subject: "CN=X", nameConstraints: { permitted: { ip: ["10.0.0.0"] } } },
      400,
    ],
    ["a bad policy OID", { name: "x", kind: "root", subject: "CN=X", policies: ["not.an.oid"] }, 400],
    ["an unknown field", { name: "x", kind: "root", subject: "CN=X", colour: "blue" }, 400],
  ])("refuses %s", async (_what, body, status) => {
    const res = await admin("POST", "/admin/cas", body);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().error.message).toEqual(expect.any(String));
  });

  it("refuses a CSR that is not one, and an HSM key where no HSM is configured", async () => {
    const res = await admin("POST", "/admin/cas/root/sign", {
      csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain("PKCS#10");
    const hsm = await admin("POST", "/admin/cas", {
      name: "h",
      kind: "root",
      subject: "CN=H",
      protection: "hsm",
    });
    expect(hsm.statusCode).toBe(400);
    expect(hsm.json().error.message).toContain("no HSM configured");
  });

  it("answers revocations of unknown certificates with 404 and unnamed ones with 400", async () => {
    expect((await admin("POST", "/admin/revocations", { serial: "01abcdef" })).statusCode).toBe(404);
    expect((await admin("POST", "/admin/revocations", { reason: "keyCompromise" })).statusCode).toBe(400);
    expect((await admin("POST", "/admin/revocations", { serial: "zz" })).statusCode).toBe(400);
    expect((await admin("GET", "/admin/cas/nope")).statusCode).toBe(404);
  });

  it("asks for a token", async () => {
    expect((await admin("GET", "/admin/cas", undefined, false)).statusCode).toBe(401);
  });

  it("serves 404 for CRLs and CA certificates that do not exist, and CRLs that do", async () => {
    const root = (await admin("GET", "/admin/cas/root")).json();
    expect((await pki("/pki/crl/nope.crl")).status).toBe(404);
    expect((await pki(`/pki/crl/${root.id}/3.crl`)).status).toBe(404);
    expect((await pki("/pki/ca/nope.crt")).status).toBe(404);
    const crl = await pki(`/pki/crl/${root.id}.crl`);
    expect(crl.status).toBe(200);
    expect(crl.headers.get("content-type")).toBe("application/pkix-crl");
    const pem = await pki(`/pki/crl/${root.id}.pem`);
    expect(await pem.text()).toMatch(/^-----BEGIN X509 CRL-----/);
  });

  it("answers OCSP requests for an issuer it does not know with unauthorized", async () => {
    const empty = await pki("/ocsp", {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: "",
    });
    expect(Buffer.from(await empty.arrayBuffer()).toString("hex")).toBe("30030a0101");
    // A well-formed request (SHA-1 CertID) naming an issuer that is not ours.
    const request = Buffer.from(
      "3042304030" +
        "3e303c303a300906052b0e03021a05000414" +
        "00".repeat(20) +
        "0414" +
        "11".repeat(20) +
        "020101",
      "hex",
    );
    const res = await pki("/ocsp", {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: request,
    });
    expect(Buffer.from(await res.arrayBuffer()).toString("hex")).toBe("30030a0106");
  });
});
