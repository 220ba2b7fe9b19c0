import "reflect-metadata";
import { webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

const V = "api-version=7.6";
const selfSigned = (extra: Record<string, unknown> = {}) => ({
  policy: { issuer: { name: "Self" }, x509_props: { subject: "CN=life.example" }, ...extra },
});

describe("certificate lifecycle details", () => {
  const work = tempDataDir();
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
  });
  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  const create = (name: string, body: unknown) => server.createCertificate(name, body);
  const publicKeyOf = async (name: string, version = "") =>
    new X509Certificate(
      Buffer.from(
        (await server.kv({ method: "GET", url: `/certificates/${name}/${version}?${V}` })).json().cer,
        "base64",
      ),
    ).publicKey
      .export({ format: "der", type: "spki" })
      .toString("hex");

  it("makes a new key for each version unless the policy says reuse_key", async () => {
    await create("fresh", selfSigned());
    const first = await publicKeyOf("fresh");
    await create("fresh", {});
    expect(await publicKeyOf("fresh")).not.toBe(first);

    await create("reused", selfSigned({ key_props: { reuse_key: true } }));
    const kept = await publicKeyOf("reused");
    await create("reused", {});
    expect(await publicKeyOf("reused")).toBe(kept);
  });

  it.each(["Self", "Unknown"])(
    "refuses a new %s version over a deleted certificate, naming the certificate, and stores no key, secret or operation",
    async (issuer) => {
      const name = `gone-${issuer.toLowerCase()}`;
      await create(name, selfSigned());
      expect((await server.kv({ method: "DELETE", url: `/certificates/${name}?${V}` })).statusCode).toBe(200);
      const refused = await create(name, {
        policy: { issuer: { name: issuer }, x509_props: { subject: "CN=life.example" } },
      });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error).toMatchObject({
        code: "Conflict",
        message: expect.stringMatching(
          new RegExp(`^Certificate ${name} is currently in a deleted but recoverable state`),
        ),
        innererror: { code: "ObjectIsDeletedButRecoverable" },
      });
      expect(
        (await server.kv({ method: "GET", url: `/certificates/${name}/pending?${V}` })).json().status,
      ).toBe("completed");
      await server.kv({ method: "POST", url: `/deletedcertificates/${name}/recover?${V}` });
      const versions = async (collection: string) =>
        (await server.kv({ method: "GET", url: `/${collection}/${name}/versions?${V}` })).json().value.length;
      expect([await versions("certificates"), await versions("keys"), await versions("secrets")]).toEqual([
        1, 1, 1,
      ]);
    },
  );

  it("never puts the private key of a non-exportable certificate in its secret", async () => {
    await create(
      "sealed-in",
      selfSigned({
        key_props: { exportable: false },
        secret_props: { contentType: "application/x-pem-file" },
      }),
    );
    const secret = (await server.kv({ method: "GET", url: `/secrets/sealed-in?${V}` })).json();
    expect(secret.value).toMatch(/BEGIN CERTIFICATE/);
    expect(secret.value).not.toMatch(/PRIVATE KEY/);
    expect(secret.kid).toMatch(/\/keys\/sealed-in\/[0-9a-f]{32}$/);
  });

  it("lists pending certificates only when includePending is asked for", async () => {
    await create("waiting", {
      policy: { issuer: { name: "Unknown" }, x509_props: { subject: "CN=waiting" } },
    });
    const ids = async (query: string) =>
      (
        (await server.kv({ method: "GET", url: `/certificates?${V}${query}` })).json().value as {
          id: string;
        }[]
      ).map((i) => i.id.split("/").pop());
    expect(await ids("")).not.toContain("waiting");
    expect(await ids("&includePending=true")).toContain("waiting");
  });

  it("leaves the operation pending and stores nothing when a merge is refused", async () => {
    await create("picky", { policy: { issuer: { name: "Unknown" }, x509_props: { subject: "CN=picky" } } });
    const pending = (await server.kv({ method: "GET", url: `/certificates/picky/pending?${V}` })).json();
    // Signed for the right key but already expired (openssl 3.0's x509 cannot backdate, @peculiar/x509 can).
    const caKeys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    const request = new x509.Pkcs10CertificateRequest(Buffer.from(pending.csr, "base64"));
    const expiredCert = await x509.X509CertificateGenerator.create({
      subject: "CN=picky",
      issuer: "CN=CA",
      notBefore: new Date("2020-01-01T00:00:00Z"),
      notAfter: new Date("2020-02-01T00:00:00Z"),
      publicKey: request.publicKey,
      signingKey: caKeys.privateKey as CryptoKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    const merge = (x5c: string[]) =>
      server.kv({ method: "POST", url: `/certificates/picky/pending/merge?${V}`, body: { x5c } });
    const expired = await merge([Buffer.from(expiredCert.rawData).toString("base64")]);
    expect(expired.statusCode).toBe(400);
    expect(expired.json().error.message).toMatch(/expired/);
    const garbage = await merge([Buffer.from("not a certificate at all").toString("base64")]);
    expect(garbage.statusCode).toBe(400);
    expect((await server.kv({ method: "GET", url: `/certificates/picky/pending?${V}` })).json().status).toBe(
      "inProgress",
    );
    for (const collection of ["keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/picky?${V}` })).statusCode).toBe(404);
    }
    expect((await server.kv({ method: "GET", url: `/certificates/picky/versions?${V}` })).statusCode).toBe(
      404,
    );
  });

  it("refuses a merge whose chain stops short of a root in a vault that requires complete chains, and keeps the operation pending", async () => {
    await create("strict-merge", {
      policy: { issuer: { name: "Unknown" }, x509_props: { subject: "CN=strict-merge" } },
    });
    const pending = (
      await server.kv({ method: "GET", url: `/certificates/strict-merge/pending?${V}` })
    ).json();
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = () => webcrypto.subtle.generateKey(alg, false, ["sign", "verify"]) as Promise<CryptoKeyPair>;
    const [rootKeys, interKeys] = [await keys(), await keys()];
    const validity = {
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 86_400_000),
    };
    const ca = [new x509.BasicConstraintsExtension(true, undefined, true)];
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=Merge Root",
      keys: rootKeys,
      signingAlgorithm: alg,
      extensions: ca,
      ...validity,
    });
    const inter = await x509.X509CertificateGenerator.create({
      subject: "CN=Merge Intermediate",
      issuer: root.subject,
      publicKey: interKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: alg,
      extensions: ca,
      ...validity,
    });
    const leaf = await x509.X509CertificateGenerator.create({
      subject: "CN=strict-merge",
      issuer: inter.subject,
      publicKey: new x509.Pkcs10CertificateRequest(Buffer.from(pending.csr, "base64")).publicKey,
      signingKey: interKeys.privateKey,
      signingAlgorithm: alg,
      ...validity,
    });
    const merge = (...certs: x509.X509Certificate[]) =>
      server.kv({
        method: "POST",
        url: `/certificates/strict-merge/pending/merge?${V}`,
        body: { x5c: certs.map((c) => Buffer.from(c.rawData).toString("base64")) },
      });
    const strict = async (on: boolean) =>
      server.strongroom.app.inject({
        method: "PATCH",
        url: "/admin/vaults/default",
        headers: { authorization: `Bearer ${await server.token()}`, "content-type": "application/json" },
        payload: JSON.stringify({ requireCompleteChain: on }),
      });
    await strict(true);
    try {
      const refused = await merge(leaf, inter);
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.message).toMatch(
        /requires complete chains: the issuer "CN=Merge Root" is missing; merge it with the certificate/,
      );
      const operation = await server.kv({ method: "GET", url: `/certificates/strict-merge/pending?${V}` });
      expect(operation.json().status).toBe("inProgress");
      for (const collection of ["keys", "secrets"]) {
        expect((await server.kv({ method: "GET", url: `/${collection}/strict-merge?${V}` })).statusCode).toBe(
          404,
        );
      }
      expect((await merge(leaf, inter, root)).statusCode).toBe(201);
    } finally {
      await strict(false);
    }
  });
});

describe.skipIf(!softHsmAvailable)("certificates whose keys live in the HSM", () => {
  const work = tempDataDir();
  let server: InProcess;
  beforeAll(async () => {
    const token = createSoftHsmToken(work.dir);
    process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
    server = await startInProcess({
      flags: { pkcs11Module: token.module, pkcs11TokenLabel: token.label, pkcs11Pin: token.pin },
    });
    await server.strongroom.app.inject({
      method: "PATCH",
      url: "/admin/vaults/default",
      headers: { authorization: `Bearer ${await server.token()}`, "content-type": "application/json" },
      payload: JSON.stringify({ sku: "premium" }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it("signs the self-signed certificate with a key that never leaves the token, and keeps it out of the secret", async () => {
    const created = await server.createCertificate(
      "hsm-cert",
      selfSigned({ key_props: { kty: "EC-HSM", crv: "P-256", exportable: false } }),
    );
    expect(created.json().status).toBe("completed");
    const cert = (await server.kv({ method: "GET", url: `/certificates/hsm-cert?${V}` })).json();
    const x509 = new X509Certificate(Buffer.from(cert.cer, "base64"));
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect((await server.kv({ method: "GET", url: `/keys/hsm-cert?${V}` })).json().key.kty).toBe("EC-HSM");
    const secret = (await server.kv({ method: "GET", url: `/secrets/hsm-cert?${V}` })).json();
    expect(Buffer.from(secret.value, "base64").length).toBeGreaterThan(0);
    const backup = await server.kv({ method: "POST", url: `/certificates/hsm-cert/backup?${V}` });
    expect(backup.statusCode).toBe(400);
  });
});
