import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toPem } from "../../src/crypto/pem.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";

/**
 * Ed25519 exists for private CAs only: Key Vault's key API has no OKP type, so vault keys and
 * certificate policies cannot ask for one, while an Ed25519 CA signs the RSA and EC keys of vault
 * certificates through the PrivateCA issuer.
 */
describe("Ed25519, which only CA keys may be", () => {
  const work = tempDataDir();
  const file = (name: string) => join(work.dir, name);
  let server: InProcess;
  const kv = (method: "GET" | "PUT" | "POST", url: string, body?: unknown) =>
    server.kv({ method, url: `${url}?${V}`, body });
  const okp = () =>
    generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }) as Record<string, string>;

  beforeAll(async () => {
    server = await startInProcess();
    const root = await kv("POST", "/admin/cas", {
      name: "ed-root",
      kind: "root",
      subject: "CN=Ed25519 Vault Root",
      keyAlgorithm: "Ed25519",
    });
    expect(root.statusCode, root.body).toBe(201);
    writeFileSync(file("root.pem"), root.json().certificate);
    const issuing = await kv("POST", "/admin/cas", {
      name: "ed-issuing",
      kind: "intermediate",
      parent: "ed-root",
      subject: "CN=Ed25519 Vault Issuing",
      keyAlgorithm: "Ed25519",
      validityDays: 365,
    });
    expect(issuing.statusCode, issuing.body).toBe(201);
    writeFileSync(file("issuing.pem"), issuing.json().certificate);
    const issuer = await kv("PUT", "/certificates/issuers/ed", {
      provider: "PrivateCA",
      credentials: { account_id: "ed-issuing" },
    });
    expect(issuer.statusCode, issuer.body).toBe(200);
  });

  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it.each([
    ["kty OKP", { kty: "OKP", crv: "Ed25519" }, /Unsupported kty "OKP"/],
    ["an EC key on Ed25519", { kty: "EC", crv: "Ed25519" }, /Unsupported curve "Ed25519"/],
  ])("refuses to create a vault key with %s", async (_what, body, message) => {
    const res = await kv("POST", "/keys/edkey/create", body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
  });

  it("refuses to import an Ed25519 JWK as a vault key", async () => {
    const res = await kv("PUT", "/keys/edkey", { key: okp() });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/Unsupported kty "OKP"/);
  });

  it.each([
    [
      "kty OKP",
      { kty: "OKP", crv: "Ed25519" },
      /key_props.kty: must be RSA, RSA-HSM, EC or EC-HSM, not "OKP"/,
    ],
    [
      "an EC key on Ed25519",
      { kty: "EC", crv: "Ed25519" },
      /key_props.crv: must be one of P-256, P-384, P-521, P-256K, not "Ed25519"/,
    ],
  ])("refuses a certificate policy asking for %s", async (_what, keyProps, message) => {
    const res = await kv("POST", "/certificates/edcert/create", {
      policy: {
        issuer: { name: "ed" },
        key_props: keyProps,
        x509_props: { subject: "CN=edcert.example.test", validity_months: 1 },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
  });

  it("refuses to import a certificate whose key is Ed25519", async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ed25519",
        "-nodes",
        "-keyout",
        file("ed.key"),
        "-out",
        file("ed.pem"),
        "-days",
        "30",
        "-subj",
        "/CN=ed.example.test",
      ],
      { stdio: "ignore" },
    );
    const value = `${readFileSync(file("ed.key"), "utf8")}${readFileSync(file("ed.pem"), "utf8")}`;
    const res = await kv("POST", "/certificates/edimport/import", { value });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toBe("Unsupported key type OKP: Key Vault keys are RSA or EC");
  });

  it("has made no vault object for any refused request", async () => {
    for (const path of ["/keys/edkey", "/certificates/edcert", "/certificates/edimport"])
      expect((await kv("GET", path)).statusCode).toBe(404);
  });

  it.each([
    ["EC", { kty: "EC", crv: "P-256" }],
    ["RSA", { kty: "RSA", key_size: 2048 }],
  ])(
    "issues a vault certificate with an %s key from an Ed25519 CA through the PrivateCA issuer",
    async (kty, keyProps) => {
      const name = `ed-${kty.toLowerCase()}`;
      const created = await server.createCertificate(name, {
        policy: {
          issuer: { name: "ed" },
          key_props: keyProps,
          x509_props: {
            subject: `CN=${name}.example.test`,
            validity_months: 1,
            sans: { dns_names: [`${name}.example.test`] },
          },
        },
      });
      expect(created.statusCode, created.body).toBe(202);
      expect(created.json().status).toBe("completed");
      const cert = (await kv("GET", `/certificates/${name}`)).json();
      writeFileSync(file(`${name}.pem`), toPem("CERTIFICATE", Buffer.from(cert.cer, "base64")));
      const openssl = (...args: string[]) => {
        const run = spawnSync("openssl", args, { encoding: "utf8" });
        return `${run.stdout}${run.stderr}`;
      };
      expect(
        openssl(
          "verify",
          "-CAfile",
          file("root.pem"),
          "-untrusted",
          file("issuing.pem"),
          file(`${name}.pem`),
        ),
      ).toContain(`${name}.pem: OK`);
      const text = openssl("x509", "-in", file(`${name}.pem`), "-noout", "-text");
      expect(text).toContain("Signature Algorithm: ED25519");
      expect(text).toContain(kty === "EC" ? "id-ecPublicKey" : "rsaEncryption");
    },
  );
});
