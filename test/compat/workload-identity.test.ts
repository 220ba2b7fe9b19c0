import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ClientAssertionCredential, ClientCertificateCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import * as x509 from "@peculiar/x509";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** A self-signed RSA certificate and its PKCS#8 key, as an application would hold them. */
async function clientCertificate(notAfter: Date) {
  const alg = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=workload",
    notBefore: new Date(Date.now() - 60_000),
    notAfter,
    keys: keys as CryptoKeyPair,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString("pem"), keyPem };
}

/** The smallest OpenID Connect issuer: discovery and a JWKS on 127.0.0.1, signing with ES256. */
async function startIssuer() {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  let url = "";
  const server: Server = createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") {
      res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/jwks`,
          id_token_signing_alg_values_supported: ["ES256"],
        }),
      );
    } else if (req.url === "/jwks") {
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    token: (subject: string, audience = "api://AzureADTokenExchange") =>
      new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(url)
        .setSubject(subject)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("workload identity with the official SDK: client certificates and federated tokens", () => {
  const data = tempDataDir();
  let server: ServerProcess;
  let http: ReturnType<typeof httpsClient>;
  let issuer: Awaited<ReturnType<typeof startIssuer>>;
  const options = () => ({
    authorityHost: server.admin.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: server.ca },
  });
  const secrets = (credential: ClientCertificateCredential | ClientAssertionCredential) =>
    new SecretClient(server.admin.vaultUrl, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: server.ca },
      retryOptions: { maxRetries: 0 },
    });

  async function admin(method: string, path: string, body?: unknown) {
    const res = await http.send(`${server.admin.authorityHost}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await adminToken(http, server.admin)}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: res.text ? res.json<Record<string, never>>() : undefined } as {
      status: number;
      // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several shapes
      body: any;
    };
  }

  async function workload(name: string) {
    const created = await admin("POST", "/admin/principals", { displayName: name });
    expect(created.status).toBe(201);
    const assigned = await admin("POST", "/admin/roleassignments", {
      principalId: created.body.id,
      role: "Key Vault Secrets User",
      scope: "/vaults/default/secrets/db-password",
    });
    expect(assigned.status).toBe(201);
    return created.body as { id: string; clientId: string };
  }

  beforeAll(async () => {
    server = await startServerProcess(data.dir);
    http = httpsClient(server.ca);
    issuer = await startIssuer();
    const put = await http.send(`${server.admin.vaultUrl}/secrets/db-password?api-version=7.6`, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${await adminToken(http, server.admin)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ value: "s3cret" }),
    });
    expect(put.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await issuer?.close();
    http?.close();
    await server?.stop();
    data.remove();
  });

  it("reads a secret with ClientCertificateCredential, and refuses the certificate once revoked", async () => {
    const app = await workload("cert-app");
    const { certPem, keyPem } = await clientCertificate(new Date(Date.now() + 86_400_000));
    const added = await admin("POST", `/admin/principals/${app.id}/certificates`, { certificate: certPem });
    expect(added.status).toBe(201);

    const credential = new ClientCertificateCredential(
      server.admin.tenantId,
      app.clientId,
      { certificate: `${keyPem}${certPem}` },
      options(),
    );
    expect((await secrets(credential).getSecret("db-password")).value).toBe("s3cret");
    await expect(secrets(credential).getSecret("other")).rejects.toMatchObject({ statusCode: 403 });

    expect((await admin("DELETE", `/admin/principals/${app.id}/certificates/${added.body.id}`)).status).toBe(
      204,
    );
    const after = new ClientCertificateCredential(
      server.admin.tenantId,
      app.clientId,
      { certificate: `${keyPem}${certPem}` },
      options(),
    );
    await expect(after.getToken("https://localhost/.default")).rejects.toThrow(/invalid_client|signed/);
  });

  it("refuses an expired client certificate", async () => {
    const app = await workload("expiring-app");
    const expired = await clientCertificate(new Date(Date.now() - 1000));
    const refused = await admin("POST", `/admin/principals/${app.id}/certificates`, {
      certificate: expired.certPem,
    });
    expect(refused.status).toBe(400);

    const { certPem, keyPem } = await clientCertificate(new Date(Date.now() + 86_400_000));
    const soon = new Date(Date.now() + 1500).toISOString();
    expect(
      (
        await admin("POST", `/admin/principals/${app.id}/certificates`, {
          certificate: certPem,
          expiresAt: soon,
        })
      ).status,
    ).toBe(201);
    await new Promise((r) => setTimeout(r, 2000));
    const credential = new ClientCertificateCredential(
      server.admin.tenantId,
      app.clientId,
      { certificate: `${keyPem}${certPem}` },
      options(),
    );
    await expect(credential.getToken("https://localhost/.default")).rejects.toThrow(/invalid_client|signed/);
  });

  it("exchanges a token from a trusted OIDC issuer for one of ours (no secret anywhere)", async () => {
    const app = await workload("federated-app");
    const subject = "system:serviceaccount:payments:api";
    const trusted = await admin("POST", `/admin/principals/${app.id}/federatedcredentials`, {
      name: "k8s",
      issuer: issuer.url,
      subject,
    });
    expect(trusted.status).toBe(201);
    expect(trusted.body.audiences).toEqual(["api://AzureADTokenExchange"]);

    const credential = new ClientAssertionCredential(
      server.admin.tenantId,
      app.clientId,
      () => issuer.token(subject),
      options(),
    );
    expect((await secrets(credential).getSecret("db-password")).value).toBe("s3cret");

    const stranger = new ClientAssertionCredential(
      server.admin.tenantId,
      app.clientId,
      () => issuer.token("system:serviceaccount:other:intruder"),
      options(),
    );
    await expect(stranger.getToken("https://localhost/.default")).rejects.toThrow(/invalid_client|signed/);
    const wrongAudience = new ClientAssertionCredential(
      server.admin.tenantId,
      app.clientId,
      () => issuer.token(subject, "api://somewhere-else"),
      options(),
    );
    await expect(wrongAudience.getToken("https://localhost/.default")).rejects.toThrow(
      /invalid_client|signed/,
    );

    expect((await admin("PATCH", `/admin/principals/${app.id}`, { enabled: false })).status).toBe(200);
    const disabled = new ClientAssertionCredential(
      server.admin.tenantId,
      app.clientId,
      () => issuer.token(subject),
      options(),
    );
    await expect(disabled.getToken("https://localhost/.default")).rejects.toThrow(/invalid_client|disabled/);
  });
});
