import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { opensslCsr } from "../support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { commandExists, requireTool } from "../support/tools.js";

const haveTools = requireTool(
  "curl and openssl",
  commandExists("curl") && commandExists("openssl"),
  "apt-get install curl openssl",
);

/** EST (RFC 7030) driven by curl, with keys, requests and checks made by openssl. */
describe.runIf(haveTools)("EST with curl and openssl", () => {
  const data = tempDataDir();
  const dir = data.dir;
  let server: ServerProcess;
  let basic: string;

  const file = (name: string) => join(dir, name);
  const run = (command: string, args: string[]) => {
    const r = spawnSync(command, args, { cwd: dir, encoding: "utf8" });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const cli = (...args: string[]) => {
    const r = runCli([...args, "--data-dir", dir]);
    if (r.code !== 0) throw new Error(`strongroom ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  const url = (label: string, operation: string) =>
    `https://localhost:${server.port}/.well-known/est/${label}/${operation}`;

  /** curl as an EST client: the body to `out`, returning the HTTP status and the body's text. */
  function curl(out: string, target: string, extra: string[] = []) {
    const r = run("curl", [
      "-s",
      "--cacert",
      file("tls/ca.pem"),
      "-o",
      file(out),
      "-w",
      "%{http_code}",
      ...extra,
      target,
    ]);
    return { status: Number(r.out), body: readFileSync(file(out), "utf8") };
  }
  /** POSTs a CSR as RFC 7030 §4.2.1 sends it: base64 DER, application/pkcs10. */
  function enroll(label: string, operation: string, csr: string, out: string, extra: string[] = []) {
    const der = run("openssl", ["req", "-in", file(csr), "-outform", "DER", "-out", file(`${csr}.der`)]);
    expect(der.status).toBe(0);
    writeFileSync(file(`${csr}.b64`), readFileSync(file(`${csr}.der`)).toString("base64"));
    return curl(out, url(label, operation), [
      "-H",
      "Content-Type: application/pkcs10",
      "--data-binary",
      `@${file(`${csr}.b64`)}`,
      ...extra,
    ]);
  }
  /** The certificates of a base64 certs-only reply, as PEM, through openssl pkcs7 -print_certs. */
  function printCerts(b64: string, pem: string) {
    writeFileSync(file(`${pem}.p7`), Buffer.from(readFileSync(file(b64), "utf8"), "base64"));
    const r = run("openssl", [
      "pkcs7",
      "-inform",
      "DER",
      "-in",
      file(`${pem}.p7`),
      "-print_certs",
      "-out",
      file(pem),
    ]);
    expect(r.status).toBe(0);
    return readFileSync(file(pem), "utf8");
  }
  const subjectOf = (pem: string) =>
    run("openssl", ["x509", "-in", file(pem), "-noout", "-subject", "-ext", "subjectAltName"]).out;

  beforeAll(async () => {
    server = await startServerProcess(dir);
    cli("ca", "create-root", "est-root", "--subject", "CN=EST Root");
    cli("est", "create", "devices", "--ca", "est-root", "--validity-days", "30");
    cli("est", "create", "restricted", "--ca", "est-root", "--principal", "someone-else");
    cli("est", "create", "p384", "--ca", "est-root", "--key-type", "EC-P384", "--eku", "1.3.6.1.5.5.7.3.2");
    basic = `${server.admin.clientId}:${server.admin.clientSecret}`;
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  it("hands out the CA certificates as base64 certs-only PKCS#7 that openssl pkcs7 -print_certs reads", () => {
    const res = curl("cacerts.b64", url("devices", "cacerts"));
    expect(res.status).toBe(200);
    expect(printCerts("cacerts.b64", "cacerts.pem")).toMatch(/subject=CN ?= ?EST Root/);
  });

  it("enrolls an openssl CSR with HTTP Basic credentials of a principal", () => {
    opensslCsr(file("basic.key"), file("basic.csr"), "/CN=basic.example", "DNS:basic.example");
    const res = enroll("devices", "simpleenroll", "basic.csr", "basic.b64", ["-u", basic]);
    expect(res.status).toBe(200);
    printCerts("basic.b64", "basic.pem");
    expect(subjectOf("basic.pem")).toMatch(/CN ?= ?basic\.example[\s\S]*DNS:basic\.example/);
    expect(run("openssl", ["verify", "-CAfile", file("cacerts.pem"), file("basic.pem")]).out).toContain("OK");
  });

  it("has OCSP report an enrolled certificate good, as the CA's records have it", () => {
    const r = run("openssl", [
      "ocsp",
      "-issuer",
      file("cacerts.pem"),
      "-cert",
      file("basic.pem"),
      "-url",
      `${server.pkiUrl}/ocsp`,
      "-CAfile",
      file("cacerts.pem"),
    ]);
    expect(r.out).toContain("Response verify OK");
    expect(r.out).toMatch(/basic\.pem: good/);
  });

  it("refuses an enrollment without credentials with 401, a Basic challenge and a text body", () => {
    opensslCsr(file("anon.key"), file("anon.csr"), "/CN=anon.example", "DNS:anon.example");
    const res = enroll("devices", "simpleenroll", "anon.csr", "anon.out", ["-D", file("anon.headers")]);
    expect(res.status).toBe(401);
    expect(readFileSync(file("anon.headers"), "utf8").toLowerCase()).toContain("www-authenticate: basic");
    expect(res.body).toContain("client certificate");
  });

  it("refuses a wrong secret and a principal the profile does not list", () => {
    const wrong = enroll("devices", "simpleenroll", "anon.csr", "wrong.out", [
      "-u",
      `${server.admin.clientId}:nope`,
    ]);
    expect(wrong.status).toBe(401);
    const unlisted = enroll("restricted", "simpleenroll", "anon.csr", "unlisted.out", ["-u", basic]);
    expect(unlisted.status).toBe(403);
    expect(unlisted.body).toContain("may not enroll");
  });

  it("enrolls with a TLS client certificate the profile's CA issued", () => {
    opensslCsr(file("tls.key"), file("tls.csr"), "/CN=tls.example", "DNS:tls.example");
    const res = enroll("devices", "simpleenroll", "tls.csr", "tls.b64", [
      "--cert",
      file("basic.pem"),
      "--key",
      file("basic.key"),
    ]);
    expect(res.status).toBe(200);
    printCerts("tls.b64", "tls.pem");
    expect(subjectOf("tls.pem")).toMatch(/CN ?= ?tls\.example/);
  });

  it("re-enrolls with the certificate being renewed as the TLS client certificate", () => {
    opensslCsr(file("renew.key"), file("renew.csr"), "/CN=basic.example", "DNS:basic.example");
    const res = enroll("devices", "simplereenroll", "renew.csr", "renew.b64", [
      "--cert",
      file("basic.pem"),
      "--key",
      file("basic.key"),
    ]);
    expect(res.status).toBe(200);
    printCerts("renew.b64", "renew.pem");
    const serial = (pem: string) => run("openssl", ["x509", "-in", file(pem), "-noout", "-serial"]).out;
    expect(subjectOf("renew.pem")).toMatch(/CN ?= ?basic\.example/);
    expect(serial("renew.pem")).not.toBe(serial("basic.pem"));
    const key = (args: string[]) => run("openssl", [...args, "-pubout"]).out;
    expect(key(["x509", "-in", file("renew.pem"), "-noout", "-pubkey"])).toBe(
      key(["pkey", "-in", file("renew.key")]),
    );
  });

  it("refuses a re-enrollment without the client certificate, or for other names", () => {
    const anonymous = enroll("devices", "simplereenroll", "renew.csr", "reanon.out", ["-u", basic]);
    expect(anonymous.status).toBe(401);
    const other = enroll("devices", "simplereenroll", "anon.csr", "reother.out", [
      "--cert",
      file("renew.pem"),
      "--key",
      file("renew.key"),
    ]);
    expect(other.status).toBe(400);
    expect(other.body).toContain("subject and names of the certificate it renews");
  });

  it("generates the key on the server and returns it with its certificate as RFC 7030 multipart", () => {
    opensslCsr(file("skg.key"), file("skg.csr"), "/CN=skg.example", "DNS:skg.example");
    const res = enroll("devices", "serverkeygen", "skg.csr", "skg.multipart", [
      "-u",
      basic,
      "-D",
      file("skg.headers"),
    ]);
    expect(res.status).toBe(200);
    const boundary = /boundary=([^\s;]+)/.exec(readFileSync(file("skg.headers"), "utf8"))?.[1] as string;
    const parts = res.body.split(`--${boundary}`).slice(1, 3);
    const [keyPart, certPart] = parts.map((p) => p.split("\r\n\r\n"));
    expect(keyPart?.[0]).toContain("application/pkcs8");
    expect(certPart?.[0]).toContain("smime-type=certs-only");
    writeFileSync(file("skg.p8"), Buffer.from(keyPart?.[1] ?? "", "base64"));
    writeFileSync(file("skg-cert.b64"), certPart?.[1] ?? "");
    printCerts("skg-cert.b64", "skg.pem");
    expect(subjectOf("skg.pem")).toMatch(/CN ?= ?skg\.example[\s\S]*DNS:skg\.example/);
    const fromKey = run("openssl", ["pkey", "-inform", "DER", "-in", file("skg.p8"), "-pubout"]).out;
    const fromCert = run("openssl", ["x509", "-in", file("skg.pem"), "-noout", "-pubkey"]).out;
    expect(fromKey).toContain("BEGIN PUBLIC KEY");
    expect(fromKey).toBe(fromCert);
    expect(fromKey).not.toBe(run("openssl", ["pkey", "-in", file("skg.key"), "-pubout"]).out);
  });

  /** The CsrAttrs of a profile as `openssl asn1parse` reads them, and its extensionRequest's EKUs. */
  function csrAttrs(label: string) {
    const answer = curl(`${label}-attrs.b64`, url(label, "csrattrs"));
    expect(answer.status).toBe(200);
    writeFileSync(file(`${label}-attrs.der`), Buffer.from(answer.body, "base64"));
    const parsed = run("openssl", ["asn1parse", "-inform", "DER", "-in", file(`${label}-attrs.der`)]);
    expect(parsed.status, parsed.out).toBe(0);
    // The EKU extension's value is an OCTET STRING: asn1parse reads into it at its offset.
    const offset = /^\s*(\d+):[^\n]*OCTET STRING/m.exec(parsed.out)?.[1];
    const ekus = run("openssl", [
      "asn1parse",
      "-inform",
      "DER",
      "-in",
      file(`${label}-attrs.der`),
      "-strparse",
      String(offset),
    ]);
    expect(ekus.status, ekus.out).toBe(0);
    return { attributes: parsed.out, ekus: ekus.out };
  }

  it("answers csrattrs with the profile's key type, its signature algorithm and its EKUs (RFC 7030 §4.5.2)", () => {
    const { attributes, ekus } = csrAttrs("p384");
    expect(attributes).toMatch(/OBJECT\s*:id-ecPublicKey/);
    expect(attributes).toMatch(/OBJECT\s*:secp384r1/);
    expect(attributes).toMatch(/OBJECT\s*:ecdsa-with-SHA384/);
    expect(attributes).toMatch(/OBJECT\s*:Extension Request/);
    expect(attributes).toMatch(/OBJECT\s*:X509v3 Extended Key Usage/);
    expect(ekus).toMatch(/OBJECT\s*:TLS Web Client Authentication/);
    expect(ekus).not.toContain("TLS Web Server Authentication");
  });

  it("asks a profile without a key type only for its EKUs in csrattrs", () => {
    const { attributes, ekus } = csrAttrs("devices");
    expect(attributes).not.toContain("id-ecPublicKey");
    expect(attributes).not.toContain("rsaEncryption");
    expect(ekus).toMatch(/TLS Web Server Authentication[\s\S]*TLS Web Client Authentication/);
  });

  it("refuses a request whose key is not the profile's key type", () => {
    opensslCsr(
      file("wrong-type.key"),
      file("wrong-type.csr"),
      "/CN=wrong-type.example",
      "DNS:wrong-type.example",
    );
    const refused = enroll("p384", "simpleenroll", "wrong-type.csr", "wrong-type.out", ["-u", basic]);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain("EC-P384");
  });

  it("records the enrolling principal and certificate as the actors in the audit log", () => {
    const rows = cli("audit", "export")
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as { operation: string; principalId?: string; clientId?: string; outcome: string },
      );
    const enrolls = rows.filter((r) => r.operation === "EstSimpleEnroll" && r.outcome === "success");
    expect(enrolls.map((r) => r.clientId)).toContain(server.admin.clientId);
    expect(enrolls.some((r) => r.principalId?.startsWith("certificate:"))).toBe(true);
    const reenroll = rows.find((r) => r.operation === "EstSimpleReenroll" && r.outcome === "success");
    expect(reenroll?.principalId).toMatch(/^certificate:[0-9a-f]+$/);
  });

  it("lists the issued certificates in the CA's records", () => {
    const issued = cli("ca", "issued", "est-root");
    for (const cn of ["basic.example", "tls.example", "skg.example"]) expect(issued).toContain(`CN=${cn}`);
  });
});
