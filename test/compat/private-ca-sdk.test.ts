import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateClient } from "@azure/keyvault-certificates";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { sdkOptions } from "../support/sdk.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const poll = { intervalInMs: 50 };
const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${(
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  ).join("\n")}\n-----END CERTIFICATE-----\n`;

describe.each(serverBackends)(
  "the official certificates SDK issuing from a private CA on $name",
  (backend) => {
    if (!backend.enabled) return;
    const data = tempDataDir();
    let dropDatabase: (() => Promise<unknown>) | undefined;
    let server: ServerProcess;
    let client: CertificateClient;
    let http: ReturnType<typeof httpsClient>;
    let bearer: string;
    const file = (name: string) => join(data.dir, name);
    const openssl = (...args: string[]) => {
      const run = spawnSync("openssl", args, { encoding: "utf8" });
      return `${run.stdout}${run.stderr}`;
    };
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await http.send(`${server.admin.authorityHost}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies of many shapes
      return { status: res.status, body: res.text ? (res.json() as any) : undefined };
    };

    beforeAll(async () => {
      const database = await backendArgs(backend);
      dropDatabase = database.drop;
      server = await startServerProcess(join(data.dir, "server"), database.args);
      http = httpsClient(server.ca);
      bearer = await adminToken(http, server.admin);
      const root = await call("POST", "/admin/cas", {
        name: "root",
        kind: "root",
        subject: "CN=SDK Test Root",
      });
      expect(root.status, JSON.stringify(root.body)).toBe(201);
      writeFileSync(file("root.pem"), root.body.certificate);
      const issuing = await call("POST", "/admin/cas", {
        name: "issuing",
        kind: "intermediate",
        parent: "root",
        subject: "CN=SDK Test Issuing CA",
        validityDays: 730,
        nameConstraints: { permitted: { dns: ["example.test"] } },
      });
      expect(issuing.status, JSON.stringify(issuing.body)).toBe(201);
      writeFileSync(file("issuing.pem"), issuing.body.certificate);
      const { credential, clientOptions } = sdkOptions(server);
      client = new CertificateClient(server.admin.vaultUrl, credential, clientOptions);
      await client.createIssuer("corp", "PrivateCA", { accountId: "issuing" });
    });

    afterAll(async () => {
      http?.close();
      await server?.stop();
      await dropDatabase?.();
      data.remove();
    });

    it("completes beginCreateCertificate through a PrivateCA issuer with a chain openssl accepts", async () => {
      const poller = await client.beginCreateCertificate(
        "web",
        {
          issuerName: "corp",
          subject: "CN=web.example.test",
          subjectAlternativeNames: { dnsNames: ["web.example.test", "api.example.test"] },
          validityInMonths: 6,
          keyType: "EC",
          keyCurveName: "P-256",
          lifetimeActions: [{ action: "AutoRenew", daysBeforeExpiry: 30 }],
        },
        poll,
      );
      const certificate = await poller.pollUntilDone();
      expect(certificate.properties.version).toMatch(/^[0-9a-f]{32}$/);
      writeFileSync(file("web.pem"), pem(certificate.cer as Uint8Array));
      expect(
        openssl("verify", "-CAfile", file("root.pem"), "-untrusted", file("issuing.pem"), file("web.pem")),
      ).toContain("web.pem: OK");
      const text = openssl("x509", "-in", file("web.pem"), "-noout", "-text");
      expect(text).toContain("DNS:web.example.test, DNS:api.example.test");
      expect(text).toContain("Issuer: CN = SDK Test Issuing CA");
      expect(text).toContain("OCSP - URI:http://");

      const issued = await call("GET", "/admin/cas/issuing/issued");
      const record = issued.body.value.find(
        (i: { vault?: { certificate: string } }) => i.vault?.certificate === "web",
      );
      expect(record).toMatchObject({
        status: "good",
        subject: "CN=web.example.test",
        vault: { vault: "default", version: certificate.properties.version },
      });
    });

    it("fails the operation when the policy names something outside the CA's constraints", async () => {
      const create = async () => {
        const poller = await client.beginCreateCertificate(
          "evil",
          {
            issuerName: "corp",
            subject: "CN=evil.other.test",
            subjectAlternativeNames: { dnsNames: ["evil.other.test"] },
          },
          poll,
        );
        return poller.pollUntilDone();
      };
      // The SDK's poller throws the failed operation's error message.
      await expect(create()).rejects.toThrow("outside CA issuing's permitted names");
      const pending = await http.send(`${server.admin.vaultUrl}/certificates/evil/pending?api-version=7.5`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      const operation = pending.json<{ status: string; error?: { message: string } }>();
      expect(operation.status).toBe("failed");
      expect(operation.error?.message).toContain("outside CA issuing's permitted names");
    });

    it("marks a vault certificate version revoked in its attributes when revoked by version", async () => {
      const current = await client.getCertificate("web");
      const version = current.properties.version as string;
      const revoked = await call("POST", "/admin/revocations", {
        vault: "default",
        certificate: "web",
        version,
        reason: "superseded",
      });
      expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
      expect(revoked.body).toMatchObject({ status: "revoked", reason: "superseded" });
      const raw = await http.send(`${server.admin.vaultUrl}/certificates/web/${version}?api-version=7.5`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      expect(raw.json<{ attributes: Record<string, unknown> }>().attributes).toMatchObject({
        revoked: true,
        revocationReason: "superseded",
      });
      // The SDK still reads the certificate: the extra attributes do not disturb it.
      expect((await client.getCertificateVersion("web", version)).properties.enabled).toBe(true);
    });
  },
);
