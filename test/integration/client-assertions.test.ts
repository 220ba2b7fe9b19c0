import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, assignRole, createPrincipal, kvAs, requestToken, tokenFor } from "../support/access.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

describe("client assertions at the token endpoint", () => {
  let server: InProcess;
  let tokenEndpoint: string;

  beforeAll(async () => {
    server = await startInProcess();
    const { admin } = server.strongroom;
    tokenEndpoint = `${admin.authorityHost}/${admin.tenantId}/oauth2/v2.0/token`;
  }, 60_000);
  afterAll(() => server?.stop());

  it("accepts a certificate assertion named by its SHA-1 x5t, for this token endpoint only", async () => {
    const app = await createPrincipal(server, "x5t-app");
    const alg = {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
      publicExponent: new Uint8Array([1, 0, 1]),
      modulusLength: 2048,
    };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "03",
      name: "CN=x5t-app",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
    });
    expect(
      (
        await adminCall(server, "POST", `/admin/principals/${app.id}/certificates`, {
          certificate: Buffer.from(cert.rawData).toString("base64"),
        })
      ).status,
    ).toBe(201);
    const x5t = createHash("sha1").update(Buffer.from(cert.rawData)).digest("base64url");
    const assertion = (audience: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "RS256", x5t })
        .setIssuer(app.clientId)
        .setSubject(app.clientId)
        .setAudience(audience)
        .setJti(crypto.randomUUID())
        .setExpirationTime("10m")
        .sign(keys.privateKey);

    const ok = await requestToken(server, {
      client_id: app.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion(tokenEndpoint),
    });
    expect(ok.status).toBe(200);
    const elsewhere = await requestToken(server, {
      client_id: app.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion("https://login.microsoftonline.com/x/oauth2/v2.0/token"),
    });
    expect(elsewhere.status).toBe(401);
    const untyped = await requestToken(server, {
      client_id: app.clientId,
      client_assertion: await assertion(tokenEndpoint),
    });
    expect(untyped.status).toBe(400);
    const notJwt = await requestToken(server, {
      client_id: app.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: "x",
    });
    expect(notJwt.status).toBe(401);
  });

  it("verifies a federated token against a pinned JWK Set", async () => {
    const app = await createPrincipal(server, "pinned-app");
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const other = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "pinned", alg: "ES256" };
    const added = await adminCall(server, "POST", `/admin/principals/${app.id}/federatedcredentials`, {
      name: "ci",
      issuer: "https://token.actions.githubusercontent.com",
      subject: "repo:octo/app:environment:prod",
      audiences: ["api://strongroom"],
      jwks: { keys: [jwk] },
    });
    expect(added.status).toBe(201);
    expect(added.body.pinnedJwks).toBe(true);
    const token = (key: CryptoKey | Uint8Array | Parameters<SignJWT["sign"]>[0]) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "pinned" })
        .setIssuer("https://token.actions.githubusercontent.com")
        .setSubject("repo:octo/app:environment:prod")
        .setAudience("api://strongroom")
        .setExpirationTime("5m")
        .sign(key);
    const ok = await requestToken(server, {
      client_id: app.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: await token(privateKey),
    });
    expect(ok.status).toBe(200);
    const forged = await requestToken(server, {
      client_id: app.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: await token(other.privateKey),
    });
    expect(forged.status).toBe(401);
    expect(forged.body.error).toBe("invalid_client");
  });
});

describe("throttling per vault", () => {
  const clock = fakeClock();
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { throttleVaultPerSecond: 1, throttleVaultBurst: 2 } });
  }, 60_000);
  afterAll(() => server?.stop());

  it("shares one bucket among every principal of a vault and refills with time", async () => {
    const [a, b] = [await createPrincipal(server, "a"), await createPrincipal(server, "b")];
    for (const p of [a, b]) await assignRole(server, p.id, "Key Vault Secrets User", "/vaults/default");
    const [ta, tb] = [
      await tokenFor(server, a.clientId, a.clientSecret),
      await tokenFor(server, b.clientId, b.clientSecret),
    ];
    const list = (token: string) => kvAs(server, token, "GET", "/secrets?api-version=7.6");
    expect((await list(ta)).status).toBe(200);
    expect((await list(tb)).status).toBe(200);
    const refused = await list(ta);
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.body.error.code).toBe("Throttled");
    expect((await list(tb)).status).toBe(429);
    clock.advance(1000);
    expect((await list(tb)).status).toBe(200);
  });
});
