import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { pythonAzureAvailable, runPython } from "../support/python-azure.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

// Debian's python3-azure: azure-identity 1.13, azure-keyvault-secrets/certificates 4.7 (api-version
// 7.3) and keys 4.8 (7.4-preview.1), driven through scripts an application would write
// (test/compat/python/). When they disagree with us, we are wrong.
describe.skipIf(!pythonAzureAvailable)("the official Azure SDK for Python (python3-azure)", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServerProcess(file("server"));
    const http = httpsClient(server.ca);
    const bearer = await adminToken(http, server.admin);
    const ca = await http.send(`${server.admin.authorityHost}/admin/cas`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "py-root", kind: "root", subject: "CN=Python Test Root" }),
    });
    expect(ca.status, ca.text).toBe(201);
    http.close();

    // What a user brings to import: a key and certificate as PEM (plain, and with the key under a
    // password as encrypted PKCS#8) and as a password-protected PFX.
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: data.dir, stdio: "pipe" });
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "leaf.key");
    openssl(
      "req",
      "-x509",
      "-subj",
      "/CN=pem.example",
      "-days",
      "30",
      "-key",
      "leaf.key",
      "-out",
      "leaf.pem",
    );
    const text = (name: string) => readFileSync(file(name), "utf8");
    openssl("pkcs8", "-topk8", "-in", "leaf.key", "-out", "leaf-encrypted.key", "-passout", "pass:py-pw");
    writeFileSync(file("plain.pem"), text("leaf.key") + text("leaf.pem"));
    writeFileSync(file("encrypted.pem"), text("leaf-encrypted.key") + text("leaf.pem"));
    openssl(
      "pkcs12",
      "-export",
      "-in",
      "leaf.pem",
      "-inkey",
      "leaf.key",
      "-out",
      "leaf.pfx",
      "-passout",
      "pass:pfx-pw",
    );
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  it("sets, gets, lists, deletes and recovers a secret with SecretClient", async () => {
    const seen = await runPython(server, "kv_secrets", "py-secret");
    expect(seen).toMatchObject({
      latest: "second value",
      firstByVersion: "first value",
      firstContentType: "text/plain",
      firstTags: { team: "py" },
      listed: true,
      afterDelete: 404,
      inDeletedList: true,
      recovered: "py-secret",
      afterRecover: "second value",
    });
    expect(seen.versions).toEqual(seen.expectedVersions);
    expect(seen.deletedRecoveryId).toBe(`${server.admin.vaultUrl}/deletedsecrets/py-secret`);
  });

  it("creates RSA and EC keys and signs, verifies, encrypts, decrypts, wraps and unwraps with CryptographyClient", async () => {
    const seen = await runPython(server, "kv_keys", "py");
    expect(seen.rsa).toEqual({
      kty: "RSA",
      bits: 3072,
      ops: ["decrypt", "encrypt", "sign", "unwrapKey", "verify", "wrapKey"],
    });
    expect(seen.ec).toEqual({ kty: "EC", crv: "P-384" });
    expect(seen).toMatchObject({
      rsaSignatureVerifies: true,
      rsaTamperedVerifies: false,
      ecSignatureLength: 96,
      ecSignatureVerifies: true,
      decrypted: "a secret message",
    });
    expect(seen.unwrapped).toBe(seen.wrappedKeyWas);
    expect(seen.signKid).toBe(seen.rsaKid);
  });

  const certificates = (scenario: string, args: Record<string, unknown> = {}) =>
    runPython(server, "kv_certificates", scenario, args);
  const leafSubject = () => new X509Certificate(readFileSync(file("leaf.pem"))).subject;

  it("begin_create_certificate(...).result() with issuer Self returns the certificate", async () => {
    const seen = await certificates("create", {
      name: "py-self",
      issuer: "Self",
      subject: "CN=py-self.example",
      dnsNames: ["py-self.example"],
    });
    expect(seen.firstStatus).toBe("inprogress");
    expect(seen.certificate).toMatchObject({
      name: "py-self",
      subject: "CN=py-self.example",
      issuer: "CN=py-self.example",
      policyIssuer: "Self",
      contentType: "application/x-pkcs12",
    });
    expect(seen.certificate.keyId).toBe(`${server.admin.vaultUrl}/keys/py-self/${seen.certificate.version}`);
    expect(seen.certificate.secretId).toBe(
      `${server.admin.vaultUrl}/secrets/py-self/${seen.certificate.version}`,
    );
  });

  it("begin_create_certificate(...).result() with a PrivateCA issuer made by create_issuer returns the CA's certificate", async () => {
    expect(
      await certificates("issuer", { issuer: "py-ca", provider: "PrivateCA", accountId: "py-root" }),
    ).toEqual({
      name: "py-ca",
      provider: "PrivateCA",
      accountId: "py-root",
    });
    const seen = await certificates("create", {
      name: "py-issued",
      issuer: "py-ca",
      subject: "CN=py-issued.example",
      dnsNames: ["py-issued.example"],
      validityMonths: 3,
    });
    expect(seen.firstStatus).toBe("inprogress");
    expect(seen.certificate).toMatchObject({
      subject: "CN=py-issued.example",
      issuer: "CN=Python Test Root",
      policyIssuer: "py-ca",
    });
  });

  it.each([
    [
      "PEM (which the SDK base64-encodes)",
      "py-pem",
      { file: "plain.pem", pem: true },
      "application/x-pem-file",
    ],
    [
      "PEM with an encrypted PKCS#8 key and its password",
      "py-pem-encrypted",
      { file: "encrypted.pem", pem: true, password: "py-pw" },
      "application/x-pem-file",
    ],
    ["a PFX with its password", "py-pfx", { file: "leaf.pfx", password: "pfx-pw" }, "application/x-pkcs12"],
  ])("imports %s with import_certificate", async (_what, name, args, contentType) => {
    const seen = await certificates("import", { name, ...args, file: file(args.file) });
    expect(seen.certificate).toMatchObject({ name, subject: leafSubject().replace(/\n/g, ","), contentType });
  });

  it("gets Key Vault's 400 for an encrypted PEM key with a wrong password", async () => {
    const seen = await certificates("import-refused", {
      name: "py-wrong-password",
      file: file("encrypted.pem"),
      pem: true,
      password: "not-it",
    });
    expect(seen).toMatchObject({ refused: true, status: 400, code: "BadParameter" });
    expect(seen.message).toMatch(/password is wrong/);
  });

  it("lists the certificates it made and imported", async () => {
    const { names } = await certificates("list");
    expect(names).toEqual(
      expect.arrayContaining(["py-self", "py-issued", "py-pem", "py-pem-encrypted", "py-pfx"]),
    );
    expect(names).not.toContain("py-wrong-password");
  });

  it("gets and updates a certificate's policy", async () => {
    expect(await certificates("policy", { name: "py-self", validityMonths: 6 })).toEqual({
      before: { subject: "CN=py-self.example", validityMonths: 12 },
      after: { subject: "CN=py-self.example", validityMonths: 6, issuer: "Self" },
    });
  });

  it("deletes a certificate with begin_delete_certificate and finds it among the deleted", async () => {
    expect(await certificates("delete", { name: "py-pfx" })).toEqual({
      recoveryId: `${server.admin.vaultUrl}/deletedcertificates/py-pfx`,
      afterDelete: 404,
      deleted: "py-pfx",
    });
  });
});
