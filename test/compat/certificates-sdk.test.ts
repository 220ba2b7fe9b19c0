import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateClient, WellKnownIssuer } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { opensslSelfSigned } from "../support/openssl-req.js";
import { collect, sdkOptions } from "../support/sdk.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const poll = { intervalInMs: 50 };
const pemBlock = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${(
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  ).join("\n")}\n-----END ${label}-----\n`;
const pem = (der: Uint8Array) => pemBlock("CERTIFICATE", der);

describe.each(serverBackends)("the official @azure/keyvault-certificates SDK on $name", (backend) => {
  if (!backend.enabled) return;
  let dropDatabase: (() => Promise<unknown>) | undefined;
  const data = tempDataDir();
  let server: ServerProcess;
  let client: CertificateClient;
  let secrets: SecretClient;
  let keys: KeyClient;
  let credential: ReturnType<typeof sdkOptions>["credential"];
  let clientOptions: ReturnType<typeof sdkOptions>["clientOptions"];
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: data.dir, encoding: "utf8" });

  beforeAll(async () => {
    const database = await backendArgs(backend);
    dropDatabase = database.drop;
    server = await startServerProcess(join(data.dir, "server"), database.args);
    ({ credential, clientOptions } = sdkOptions(server));
    client = new CertificateClient(server.admin.vaultUrl, credential, clientOptions);
    secrets = new SecretClient(server.admin.vaultUrl, credential, clientOptions);
    keys = new KeyClient(server.admin.vaultUrl, credential, clientOptions);
  });

  /** Whether the certificate's key signs, checked against the certificate's own public key. */
  async function signsForCertificate(name: string): Promise<boolean> {
    const certificate = await client.getCertificate(name);
    const crypto = new CryptographyClient(certificate.keyId ?? "", credential, clientOptions);
    const data = Buffer.from(`signed by the key of ${name}`);
    const { result } = await crypto.signData("RS256", data);
    const { verify } = await import("node:crypto");
    return verify("sha256", data, new X509Certificate(certificate.cer as Uint8Array).publicKey, result);
  }

  afterAll(async () => {
    await server?.stop();
    await dropDatabase?.();
    data.remove();
  });

  it("creates a self-signed RSA certificate that openssl accepts, with Key Vault's default policy", async () => {
    const poller = await client.beginCreateCertificate(
      "web",
      {
        issuerName: WellKnownIssuer.Self,
        subject: "CN=web.example",
        subjectAlternativeNames: { dnsNames: ["web.example"] },
      },
      poll,
    );
    const certificate = await poller.pollUntilDone();
    expect(certificate.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(certificate.keyId).toBe(`${server.admin.vaultUrl}/keys/web/${certificate.properties.version}`);
    expect(certificate.secretId).toBe(
      `${server.admin.vaultUrl}/secrets/web/${certificate.properties.version}`,
    );
    expect(certificate.policy).toMatchObject({
      keyType: "RSA",
      keySize: 2048,
      exportable: true,
      reuseKey: false,
      contentType: "application/x-pkcs12",
      validityInMonths: 12,
      enhancedKeyUsage: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
      keyUsage: ["digitalSignature", "keyEncipherment"],
      lifetimeActions: [{ action: "AutoRenew", lifetimePercentage: 80 }],
    });
    writeFileSync(join(data.dir, "web.pem"), pem(certificate.cer as Uint8Array));
    expect(openssl("verify", "-CAfile", "web.pem", "web.pem")).toMatch(/OK/);
    const text = openssl("x509", "-in", "web.pem", "-noout", "-subject", "-ext", "subjectAltName");
    expect(text).toMatch(/CN ?= ?web\.example/);
    expect(text).toMatch(/DNS:web\.example/);
    const x509 = new X509Certificate(certificate.cer as Uint8Array);
    expect(certificate.properties.expiresOn?.getTime()).toBe(new Date(x509.validTo).getTime());
  });

  it("keeps the private key in the backing secret as a PFX that openssl opens, and signs with the backing key", async () => {
    const certificate = await client.getCertificate("web");
    const secret = await secrets.getSecret("web");
    expect(secret.properties.contentType).toBe("application/x-pkcs12");
    expect(secret.properties.managed).toBe(true);
    writeFileSync(join(data.dir, "web.pfx"), Buffer.from(secret.value ?? "", "base64"));
    openssl("pkcs12", "-in", "web.pfx", "-passin", "pass:", "-nodes", "-out", "web-all.pem");
    const all = readFileSync(join(data.dir, "web-all.pem"), "utf8");
    expect(all).toMatch(/BEGIN PRIVATE KEY/);
    const key = createPrivateKey(all);
    const x509 = new X509Certificate(certificate.cer as Uint8Array);
    expect(x509.checkPrivateKey(key)).toBe(true);

    const crypto = new CryptographyClient(certificate.keyId ?? "", credential, clientOptions);
    const { result } = await crypto.signData("RS256", Buffer.from("signed by the certificate key"));
    const { verify } = await import("node:crypto");
    expect(
      verify("sha256", Buffer.from("signed by the certificate key"), x509.publicKey, Buffer.from(result)),
    ).toBe(true);
  });

  it("answers a direct change of a certificate's key or secret with 403 Forbidden, which the SDKs throw", async () => {
    await (
      await client.beginCreateCertificate("guarded", { issuerName: "Self", subject: "CN=guarded" }, poll)
    ).pollUntilDone();
    const forbidden = {
      name: "RestError",
      statusCode: 403,
      code: "Forbidden",
      message: expect.stringMatching(/managed by certificate guarded; use the certificates API/),
    };
    await expect(keys.beginDeleteKey("guarded", poll)).rejects.toMatchObject(forbidden);
    await expect(keys.rotateKey("guarded")).rejects.toMatchObject(forbidden);
    await expect(keys.updateKeyProperties("guarded", { enabled: false })).rejects.toMatchObject(forbidden);
    await expect(
      keys.updateKeyRotationPolicy("guarded", {
        lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P30D" }],
      }),
    ).rejects.toMatchObject(forbidden);
    await expect(secrets.beginDeleteSecret("guarded", poll)).rejects.toMatchObject(forbidden);
    await expect(secrets.setSecret("guarded", "overwritten")).rejects.toMatchObject(forbidden);
    await expect(secrets.updateSecretProperties("guarded", "", { enabled: false })).rejects.toMatchObject(
      forbidden,
    );
    expect((await collect(keys.listPropertiesOfKeyVersions("guarded"))).length).toBe(1);
    expect(await signsForCertificate("guarded")).toBe(true);
  });

  it("creates EC certificates as PEM", async () => {
    const poller = await client.beginCreateCertificate(
      "ec-pem",
      {
        issuerName: "Self",
        subject: "CN=ec.example",
        keyType: "EC",
        keyCurveName: "P-384",
        contentType: "application/x-pem-file",
      },
      poll,
    );
    const certificate = await poller.pollUntilDone();
    expect(certificate.policy?.keyCurveName).toBe("P-384");
    const secret = await secrets.getSecret("ec-pem");
    expect(secret.value).toMatch(/-----BEGIN PRIVATE KEY-----/);
    expect(secret.value).toMatch(/-----BEGIN CERTIFICATE-----/);
    writeFileSync(join(data.dir, "ec.pem"), secret.value ?? "");
    expect(openssl("x509", "-in", "ec.pem", "-noout", "-text")).toMatch(/ASN1 OID: secp384r1/);
    expect(openssl("verify", "-CAfile", "ec.pem", "ec.pem")).toMatch(/OK/);
    // The key in the PEM is the certificate's: openssl derives the same public key from both.
    const fromKey = openssl("pkey", "-in", "ec.pem", "-pubout");
    expect(fromKey).toMatch(/BEGIN PUBLIC KEY/);
    expect(openssl("x509", "-in", "ec.pem", "-noout", "-pubkey")).toBe(fromKey);
    const x509 = new X509Certificate(certificate.cer as Uint8Array);
    expect(x509.checkPrivateKey(createPrivateKey(secret.value ?? ""))).toBe(true);
  });

  it("puts only certificate bags in the PFX of a non-exportable certificate", async () => {
    await (
      await client.beginCreateCertificate(
        "sealed-pfx",
        { issuerName: "Self", subject: "CN=sealed.example", exportable: false },
        poll,
      )
    ).pollUntilDone();
    const secret = await secrets.getSecret("sealed-pfx");
    expect(secret.properties.contentType).toBe("application/x-pkcs12");
    writeFileSync(join(data.dir, "sealed.pfx"), Buffer.from(secret.value ?? "", "base64"));
    // openssl pkcs12 -info names each bag on stderr ("Key bag", "Shrouded Keybag", "Certificate bag").
    const info = spawnSync(
      "openssl",
      ["pkcs12", "-in", "sealed.pfx", "-passin", "pass:", "-info", "-nodes"],
      {
        cwd: data.dir,
        encoding: "utf8",
      },
    );
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr).toMatch(/Certificate bag/);
    expect(info.stderr).not.toMatch(/Key ?bag/i);
    expect(info.stdout).toMatch(/BEGIN CERTIFICATE/);
    expect(info.stdout).not.toMatch(/PRIVATE KEY/);
  });

  it("converts a certificate's secret to the format outContentType asks for", async () => {
    const pem = "application/x-pem-file";
    const pfx = "application/x-pkcs12";
    const web = await client.getCertificate("web");
    const check = (value: string | undefined, leaf: Uint8Array | undefined) => {
      const x509 = new X509Certificate(leaf ?? new Uint8Array());
      expect(new X509Certificate(value ?? "").fingerprint256).toBe(x509.fingerprint256);
      expect(x509.checkPrivateKey(createPrivateKey(value ?? ""))).toBe(true);
    };
    // PFX to PEM, latest and by version: what Key Vault documents.
    const latest = await secrets.getSecret("web", { outContentType: pem });
    expect(latest.properties.contentType).toBe(pem);
    check(latest.value, web.cer);
    const versioned = await secrets.getSecret("web", {
      version: web.properties.version ?? "",
      outContentType: pem,
    });
    expect(versioned.value).toBe(latest.value);
    expect((await secrets.getSecret("web", { outContentType: pfx })).value).toBe(
      (await secrets.getSecret("web")).value,
    );
    // PEM to PFX.
    const ecPfx = await secrets.getSecret("ec-pem", { outContentType: pfx });
    expect(ecPfx.properties.contentType).toBe(pfx);
    writeFileSync(join(data.dir, "ec-converted.pfx"), Buffer.from(ecPfx.value ?? "", "base64"));
    const opened = openssl("pkcs12", "-in", "ec-converted.pfx", "-passin", "pass:", "-nodes");
    check(opened, (await client.getCertificate("ec-pem")).cer);
    // A non-exportable certificate's secret has no key to give, in either format.
    const sealed = await secrets.getSecret("sealed-pfx", { outContentType: pem });
    expect(sealed.value).toMatch(/BEGIN CERTIFICATE/);
    expect(sealed.value).not.toMatch(/PRIVATE KEY/);
    // Only a certificate's secret converts, and only to the two formats.
    await secrets.setSecret("plain", "not a certificate", { contentType: pem });
    await expect(secrets.getSecret("plain", { outContentType: pem })).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
      message: expect.stringMatching(/outContentType converts only the secret of a certificate/),
    });
    await expect(secrets.getSecret("web", { outContentType: "application/json" })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(
        /outContentType must be application\/x-pem-file or application\/x-pkcs12/,
      ),
    });
  });

  it("leaves an Unknown-issuer certificate pending with a CSR until the signed certificate is merged", async () => {
    await client.beginCreateCertificate(
      "merged",
      { issuerName: "Unknown", subject: "CN=merged.example" },
      poll,
    );
    const operation = (await client.getCertificateOperation("merged")).getOperationState()
      .certificateOperation;
    expect(operation?.status).toBe("inProgress");
    expect(operation?.statusDetails).toBe(
      "Pending certificate created. Please Perform Merge to complete the request.",
    );
    const csr = pemBlock("CERTIFICATE REQUEST", operation?.csr ?? new Uint8Array());
    writeFileSync(join(data.dir, "merged.csr"), csr);
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "3",
      "-subj",
      "/CN=Test CA",
    );
    openssl(
      "x509",
      "-req",
      "-in",
      "merged.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      "merged.pem",
    );

    const wrong = Buffer.from(readFileSync(join(data.dir, "ca.pem"), "utf8"));
    await expect(client.mergeCertificate("merged", [wrong])).rejects.toMatchObject({ statusCode: 400 });
    expect(
      (await client.getCertificateOperation("merged")).getOperationState().certificateOperation?.status,
    ).toBe("inProgress");

    // As the SDK's own sample does: the bytes of base64 text of the PEM.
    const leaf = Buffer.from(
      Buffer.from(readFileSync(join(data.dir, "merged.pem"), "utf8")).toString("base64"),
    );
    const merged = await client.mergeCertificate("merged", [
      leaf,
      Buffer.from(readFileSync(join(data.dir, "ca.pem"))),
    ]);
    expect(merged.properties.version).toMatch(/^[0-9a-f]{32}$/);
    writeFileSync(join(data.dir, "merged-leaf.pem"), pem(merged.cer as Uint8Array));
    expect(openssl("verify", "-CAfile", "ca.pem", "merged-leaf.pem")).toMatch(/OK/);
    const finished = await client.getCertificateOperation("merged");
    expect(finished.getOperationState().certificateOperation?.status).toBe("completed");
  });

  it("reports the issuer's certificate type and transparency in the operation, as the policy has them", async () => {
    await client.beginCreateCertificate(
      "typed",
      {
        issuerName: "Unknown",
        subject: "CN=typed",
        certificateType: "OV-SSL",
        certificateTransparency: false,
      },
      poll,
    );
    expect(
      (await client.getCertificateOperation("typed")).getOperationState().certificateOperation,
    ).toMatchObject({ issuerName: "Unknown", certificateType: "OV-SSL", certificateTransparency: false });
  });

  it("refuses a second create while one is in progress, and cancels and deletes operations", async () => {
    await client.beginCreateCertificate("cancelled", { issuerName: "Unknown", subject: "CN=c" }, poll);
    const inProgress = {
      statusCode: 409,
      code: "Forbidden",
      message:
        "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.",
    };
    await expect(
      client.beginCreateCertificate("cancelled", { issuerName: "Unknown", subject: "CN=c" }),
    ).rejects.toMatchObject(inProgress);
    await expect(client.importCertificate("cancelled", Buffer.from("never read"))).rejects.toMatchObject(
      inProgress,
    );
    const operation = await client.getCertificateOperation("cancelled");
    await operation.cancelOperation();
    expect(operation.getOperationState().certificateOperation?.status).toBe("cancelled");
    const deleted = await client.deleteCertificateOperation("cancelled");
    expect(deleted.status).toBe("cancelled");
    await expect(client.getCertificateOperation("cancelled")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("imports a PFX made by openssl and keeps its chain", async () => {
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "leaf.key",
      "-out",
      "leaf.csr",
      "-subj",
      "/CN=imported.example",
    );
    openssl(
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      "leaf.pem",
    );
    openssl(
      "pkcs12",
      "-export",
      "-in",
      "leaf.pem",
      "-inkey",
      "leaf.key",
      "-certfile",
      "ca.pem",
      "-out",
      "bundle.pfx",
      "-passout",
      "pass:s3cret",
    );
    const imported = await client.importCertificate("imported", readFileSync(join(data.dir, "bundle.pfx")), {
      password: "s3cret",
    });
    expect(new X509Certificate(imported.cer as Uint8Array).subject).toMatch(/imported\.example/);
    const secret = await secrets.getSecret("imported");
    writeFileSync(join(data.dir, "imported-out.pfx"), Buffer.from(secret.value ?? "", "base64"));
    const out = openssl("pkcs12", "-in", "imported-out.pfx", "-passin", "pass:", "-nokeys");
    expect(out.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    await expect(
      client.importCertificate("wrong-password", readFileSync(join(data.dir, "bundle.pfx")), {
        password: "nope",
      }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it("reports an imported certificate's SANs, EKUs, key usage and validity in its policy", async () => {
    opensslSelfSigned(
      join(data.dir, "profiled.key"),
      join(data.dir, "profiled.pem"),
      "/CN=profiled.example",
      {
        days: 397,
        subjectAltName: "DNS:profiled.example,DNS:*.profiled.example,IP:10.0.0.7,email:ops@profiled.example",
        extensions: [
          "extendedKeyUsage=serverAuth,1.3.6.1.5.5.7.3.8",
          "keyUsage=critical,digitalSignature,keyAgreement",
        ],
      },
    );
    const bundle = `${readFileSync(join(data.dir, "profiled.key"), "utf8")}${readFileSync(join(data.dir, "profiled.pem"), "utf8")}`;
    await client.importCertificate("profiled", Buffer.from(bundle), {
      policy: {
        contentType: "application/x-pem-file",
        issuerName: "Unknown",
        subject: "CN=profiled.example",
      },
    });
    const policy = await client.getCertificatePolicy("profiled");
    expect(policy.subjectAlternativeNames).toEqual({
      dnsNames: ["profiled.example", "*.profiled.example"],
      emails: ["ops@profiled.example"],
      ipAddresses: ["10.0.0.7"],
    });
    expect(policy.enhancedKeyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.8"]);
    expect(policy.keyUsage).toEqual(["digitalSignature", "keyAgreement"]);
    expect(policy.validityInMonths).toBe(13);
    expect(policy.keyType).toBe("EC");
    expect(policy.keyCurveName).toBe("P-256");
    expect(policy.issuerName).toBe("Unknown");
  });

  it("gets versions, lists, updates properties and policy", async () => {
    const again = await (
      await client.beginCreateCertificate("web", { issuerName: "Self", subject: "CN=web.example" }, poll)
    ).pollUntilDone();
    const versions = await collect(client.listPropertiesOfCertificateVersions("web"));
    expect(versions).toHaveLength(2);
    expect((await client.getCertificateVersion("web", versions[0]?.version ?? "")).properties.version).toBe(
      versions[0]?.version,
    );
    const names = (await collect(client.listPropertiesOfCertificates())).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["web", "ec-pem", "merged", "imported"]));
    const updated = await client.updateCertificateProperties("web", again.properties.version ?? "", {
      tags: { team: "edge" },
    });
    expect(updated.properties.tags).toEqual({ team: "edge" });
    // updateCertificatePolicy's own return value is empty in this SDK release (it never reads the
    // response body), so the change is read back.
    await client.updateCertificatePolicy("web", {
      issuerName: "Self",
      subject: "CN=web.example",
      validityInMonths: 6,
    });
    expect((await client.getCertificatePolicy("web")).validityInMonths).toBe(6);
  });

  it("deletes, recovers and purges a certificate with its key and secret", async () => {
    await (
      await client.beginCreateCertificate("doomed", { issuerName: "Self", subject: "CN=doomed" }, poll)
    ).pollUntilDone();
    await (await client.beginDeleteCertificate("doomed", poll)).pollUntilDone();
    await expect(secrets.getSecret("doomed")).rejects.toMatchObject({ statusCode: 404 });
    await expect(keys.getKey("doomed")).rejects.toMatchObject({ statusCode: 404 });
    const deleted = await client.getDeletedCertificate("doomed");
    expect(deleted.name).toBe("doomed");
    expect(deleted.policy?.subject).toBe("CN=doomed");
    expect((await collect(client.listDeletedCertificates())).map((d) => d.name)).toContain("doomed");
    expect((await collect(keys.listDeletedKeys())).map((d) => d.name)).toContain("doomed");
    expect((await keys.getDeletedKey("doomed")).properties.managed).toBe(true);
    expect((await collect(secrets.listDeletedSecrets())).map((d) => d.name)).toContain("doomed");

    await (await client.beginRecoverDeletedCertificate("doomed", poll)).pollUntilDone();
    expect((await secrets.getSecret("doomed")).value).toBeTruthy();
    expect(await signsForCertificate("doomed")).toBe(true);

    await (await client.beginDeleteCertificate("doomed", poll)).pollUntilDone();
    await client.purgeDeletedCertificate("doomed");
    await expect(client.getDeletedCertificate("doomed")).rejects.toMatchObject({ statusCode: 404 });
    await expect(keys.getDeletedKey("doomed")).rejects.toMatchObject({ statusCode: 404 });
    await expect(keys.getKey("doomed")).rejects.toMatchObject({ statusCode: 404 });
    await expect(secrets.getDeletedSecret("doomed")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("backs up and restores a certificate with its key and secret", async () => {
    const original = await client.getCertificate("web");
    const backup = await client.backupCertificate("web");
    await (await client.beginDeleteCertificate("web", poll)).pollUntilDone();
    await client.purgeDeletedCertificate("web");
    const restored = await client.restoreCertificateBackup(backup as Uint8Array);
    expect(Buffer.from(restored.cer as Uint8Array).equals(Buffer.from(original.cer as Uint8Array))).toBe(
      true,
    );
    expect((await collect(client.listPropertiesOfCertificateVersions("web"))).length).toBe(2);
    const secret = await secrets.getSecret("web");
    writeFileSync(join(data.dir, "restored.pfx"), Buffer.from(secret.value ?? "", "base64"));
    expect(openssl("pkcs12", "-in", "restored.pfx", "-passin", "pass:", "-nodes")).toMatch(
      /BEGIN PRIVATE KEY/,
    );
    const key = await keys.getKey("web");
    const certificateKey = new X509Certificate(restored.cer as Uint8Array).publicKey.export({
      format: "jwk",
    });
    expect(Buffer.from(key.key?.n ?? new Uint8Array()).toString("base64url")).toBe(certificateKey.n);
    expect(key.properties.version).toBe(restored.properties.version);
    expect(await signsForCertificate("web")).toBe(true);
    await expect(client.restoreCertificateBackup(backup as Uint8Array)).rejects.toMatchObject({
      statusCode: 409,
    });
  });

  it("manages issuers without ever returning their password, and contacts", async () => {
    const issuer = await client.createIssuer("corp-ca", "PrivateCA", {
      accountId: "acct",
      password: "hunter2",
    });
    expect(issuer.provider).toBe("PrivateCA");
    expect(JSON.stringify(await client.getIssuer("corp-ca"))).not.toContain("hunter2");
    // @azure/keyvault-certificates 4.10.3 sends attributes.enabled only when it is truthy
    // (`if (updatedOptions.enabled)`), so its updateIssuer({ enabled: false }) sends a PATCH that
    // names nothing but empty credentials, which must change nothing; the PATCH it means to send is
    // sent directly.
    await client.updateIssuer("corp-ca", { enabled: false });
    expect(await client.getIssuer("corp-ca")).toMatchObject({ enabled: true, accountId: "acct" });
    const http = httpsClient(server.ca);
    const patched = await http.send(`${server.admin.vaultUrl}/certificates/issuers/corp-ca?api-version=7.6`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${await adminToken(http, server.admin)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ attributes: { enabled: false } }),
    });
    http.close();
    expect(patched.status).toBe(200);
    // The other fields survive an update that names only enabled.
    expect(await client.getIssuer("corp-ca")).toMatchObject({
      enabled: false,
      provider: "PrivateCA",
      accountId: "acct",
    });
    await expect(
      client.beginCreateCertificate("from-disabled", { issuerName: "corp-ca", subject: "CN=x" }, poll),
    ).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
      message: "policy.issuer.name: the issuer corp-ca is disabled; enable it or name another issuer",
    });
    await expect(client.getCertificateOperation("from-disabled")).rejects.toMatchObject({ statusCode: 404 });
    expect((await client.updateIssuer("corp-ca", { enabled: true })).enabled).toBe(true);
    expect((await client.getIssuer("corp-ca")).enabled).toBe(true);
    const listed = (await collect(client.listPropertiesOfIssuers())) as { id?: string }[];
    expect(listed.map((i) => i.id)).toContain(`${server.admin.vaultUrl}/certificates/issuers/corp-ca`);
    await client.deleteIssuer("corp-ca");
    await expect(client.getIssuer("corp-ca")).rejects.toMatchObject({ statusCode: 404 });

    const contacts = await client.setContacts([{ email: "pki@example.com", name: "PKI team" }]);
    expect(contacts?.[0]?.email).toBe("pki@example.com");
    expect((await client.getContacts())?.[0]?.name).toBe("PKI team");
    await client.deleteContacts();
    await expect(client.getContacts()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("fails an operation for an issuer whose provider has no adapter, instead of hanging", async () => {
    await client.createIssuer("acme-nowhere", "AcmeProvider");
    const created = (async () => {
      const poller = await client.beginCreateCertificate(
        "unissuable",
        { issuerName: "acme-nowhere", subject: "CN=x" },
        poll,
      );
      return poller.pollUntilDone();
    })();
    await expect(created).rejects.toThrow(/No issuer adapter serves provider "AcmeProvider"/);
    const http = httpsClient(server.ca);
    const token = await adminToken(http, server.admin);
    const pending = await http.send(
      `${server.admin.vaultUrl}/certificates/unissuable/pending?api-version=7.6`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    http.close();
    expect(pending.json()).toMatchObject({ status: "failed", error: { code: "UnsupportedIssuerProvider" } });
  });
});
