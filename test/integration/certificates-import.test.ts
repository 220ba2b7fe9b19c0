import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr, opensslSelfSigned } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";

const forge = createRequire(import.meta.url)("node-forge") as typeof import("node-forge");
const V = "api-version=7.6";

describe("certificate import", () => {
  const work = tempDataDir();
  let server: InProcess;
  const file = (name: string) => readFileSync(join(work.dir, name));
  const text = (name: string) => file(name).toString("utf8");
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: work.dir, stdio: "pipe" });

  beforeAll(async () => {
    server = await startInProcess();
    const ext = (name: string, lines: string) => {
      writeFileSync(join(work.dir, name), lines);
    };
    ext("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    opensslSelfSigned(join(work.dir, "root.key"), join(work.dir, "root.pem"), "/CN=Test Root", { days: 30 });
    opensslCsr(join(work.dir, "inter.key"), join(work.dir, "inter.csr"), "/CN=Test Intermediate");
    openssl(
      "x509",
      "-req",
      "-in",
      "inter.csr",
      "-CA",
      "root.pem",
      "-CAkey",
      "root.key",
      "-CAcreateserial",
      "-days",
      "20",
      "-extfile",
      "ca.ext",
      "-out",
      "inter.pem",
    );
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
      "/CN=leaf.example",
    );
    openssl(
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "inter.pem",
      "-CAkey",
      "inter.key",
      "-CAcreateserial",
      "-days",
      "10",
      "-out",
      "leaf.pem",
    );
    writeFileSync(join(work.dir, "chain.pem"), text("inter.pem") + text("root.pem"));
    openssl(
      "pkcs12",
      "-export",
      "-in",
      "leaf.pem",
      "-inkey",
      "leaf.key",
      "-certfile",
      "chain.pem",
      "-out",
      "modern.pfx",
      "-passout",
      "pass:pw",
    );
    openssl(
      "pkcs12",
      "-export",
      "-legacy",
      "-in",
      "leaf.pem",
      "-inkey",
      "leaf.key",
      "-certfile",
      "chain.pem",
      "-out",
      "legacy.pfx",
      "-passout",
      "pass:pw",
    );
    openssl(
      "pkcs12",
      "-export",
      "-in",
      "leaf.pem",
      "-inkey",
      "leaf.key",
      "-certfile",
      "chain.pem",
      "-out",
      "nopass.pfx",
      "-passout",
      "pass:",
    );
    openssl("rsa", "-in", "leaf.key", "-traditional", "-out", "leaf-traditional.key");
  });

  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  const importAs = (name: string, body: Record<string, unknown>) =>
    server.kv({ method: "POST", url: `/certificates/${name}/import?${V}`, body });

  async function expectImported(name: string, body: Record<string, unknown>) {
    const res = await importAs(name, body);
    expect(res.statusCode, res.body).toBe(200);
    expect(new X509Certificate(Buffer.from(res.json().cer, "base64")).subject).toBe("CN=leaf.example");
    const inspected = await server.strongroom.app.inject({
      method: "GET",
      url: `/admin/vaults/default/certificates/${name}`,
      headers: { authorization: `Bearer ${await server.token()}` },
    });
    return inspected.json();
  }

  it("imports a modern PFX (PBES2, AES) with its full chain in order", async () => {
    const inspected = await expectImported("modern", {
      value: file("modern.pfx").toString("base64"),
      pwd: "pw",
    });
    expect(inspected).toMatchObject({ chainLength: 3, chain: { complete: true } });
  });

  it("imports a legacy PFX (3DES and RC2, as openssl -legacy writes)", async () => {
    const inspected = await expectImported("legacy", {
      value: file("legacy.pfx").toString("base64"),
      pwd: "pw",
    });
    expect(inspected.chain).toEqual({ complete: true });
  });

  it("imports a PFX without a password", async () => {
    await expectImported("nopass", { value: file("nopass.pfx").toString("base64") });
  });

  it("imports a PFX written by node-forge", async () => {
    // node-forge reads only RSA certificates, so its PFX carries the RSA leaf alone.
    const key = forge.pki.privateKeyFromPem(text("leaf.key"));
    const p12 = forge.pkcs12.toPkcs12Asn1(key, [forge.pki.certificateFromPem(text("leaf.pem"))], "forge", {
      algorithm: "3des",
    });
    const der = Buffer.from(forge.asn1.toDer(p12).getBytes(), "binary");
    const inspected = await expectImported("forge", { value: der.toString("base64"), pwd: "forge" });
    expect(inspected.chain).toEqual({ complete: false, missingIssuer: "CN=Test Intermediate" });
  });

  it("imports a PFX written by pkijs: the backing secret of another certificate", async () => {
    const secret = await server.kv({ method: "GET", url: `/secrets/modern?${V}` });
    const inspected = await expectImported("from-secret", { value: secret.json().value });
    expect(inspected).toMatchObject({ chainLength: 3, chain: { complete: true } });
  });

  it("imports PEM with a traditional RSA key and the chain in any order", async () => {
    const shuffled = text("root.pem") + text("leaf-traditional.key") + text("leaf.pem") + text("inter.pem");
    const inspected = await expectImported("shuffled", {
      value: shuffled,
      policy: { secret_props: { contentType: "application/x-pem-file" } },
    });
    expect(inspected).toMatchObject({ chainLength: 3, chain: { complete: true } });
    const secret = await server.kv({ method: "GET", url: `/secrets/shuffled?${V}` });
    const pem = secret.json().value as string;
    const order = [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
      (m) => new X509Certificate(m[0]).subject,
    );
    expect(order).toEqual(["CN=leaf.example", "CN=Test Intermediate", "CN=Test Root"]);
  });

  it("records an incomplete chain and names the missing issuer", async () => {
    const inspected = await expectImported("no-intermediate", {
      value: text("leaf.key") + text("leaf.pem") + text("root.pem"),
      policy: { secret_props: { contentType: "application/x-pem-file" } },
    });
    expect(inspected.chain).toEqual({ complete: false, missingIssuer: "CN=Test Intermediate" });
  });

  it("refuses an incomplete chain in a vault that requires complete chains", async () => {
    const token = await server.token();
    await server.strongroom.app.inject({
      method: "PATCH",
      url: "/admin/vaults/default",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: JSON.stringify({ requireCompleteChain: true }),
    });
    const res = await importAs("strict", { value: text("leaf.key") + text("leaf.pem") });
    await server.strongroom.app.inject({
      method: "PATCH",
      url: "/admin/vaults/default",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: JSON.stringify({ requireCompleteChain: false }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(
      /requires complete chains: the issuer "CN=Test Intermediate" is missing/,
    );
    for (const collection of ["certificates", "keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/strict?${V}` })).statusCode).toBe(404);
    }
  });

  const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    format: "pem",
    type: "pkcs8",
  });

  it.each([
    [
      "a key that does not match the leaf",
      () => ({ value: `${otherKey}${text("leaf.pem")}` }),
      /does not belong to the leaf/,
    ],
    [
      "a wrong password",
      () => ({ value: file("modern.pfx").toString("base64"), pwd: "wrong" }),
      /password is wrong/,
    ],
    [
      "a truncated PFX",
      () => ({ value: file("modern.pfx").subarray(0, 200).toString("base64"), pwd: "pw" }),
      /PKCS#12/,
    ],
    ["random bytes", () => ({ value: randomBytes(512).toString("base64") }), /PKCS#12/],
    ["a certificate without its key", () => ({ value: text("leaf.pem") }), /no private key/],
  ])("refuses %s with 400 and stores nothing", async (_name, body, message) => {
    const res = await importAs("refused", body());
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
    for (const collection of ["certificates", "keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/refused?${V}` })).statusCode).toBe(404);
    }
  });
});

describe("certificate policies", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
  });
  afterAll(() => server?.stop());

  const create = (policy: Record<string, unknown>) =>
    server.kv({ method: "POST", url: `/certificates/bad/create?${V}`, body: { policy } });

  it.each([
    [
      "an EC key with key_size 2048",
      { key_props: { kty: "EC", key_size: 2048 } },
      /policy\.key_props\.key_size: 2048 contradicts curve P-256/,
    ],
    [
      "lifetime_percentage 0",
      { lifetime_actions: [{ trigger: { lifetime_percentage: 0 }, action: { action_type: "AutoRenew" } }] },
      /lifetime_percentage/,
    ],
    ["validity_months 0", { x509_props: { subject: "CN=x", validity_months: 0 } }, /validity_months/],
    [
      "an EKU that is not an OID",
      { x509_props: { subject: "CN=x", ekus: ["serverAuth"] } },
      /policy\.x509_props\.ekus/,
    ],
    ["an unknown key usage", { x509_props: { subject: "CN=x", key_usage: ["signEverything"] } }, /key_usage/],
    ["neither subject nor SAN", { x509_props: {} }, /subject/],
    ["an unknown content type", { secret_props: { contentType: "text/plain" } }, /contentType/],
  ])("refuses %s, naming the field", async (_name, policy, message) => {
    const res = await create({ issuer: { name: "Self" }, x509_props: { subject: "CN=x" }, ...policy });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
    // A certificate GET also answers for a pending operation, so its 404 says none was left either.
    for (const collection of ["certificates", "keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/bad?${V}` })).statusCode).toBe(404);
    }
  });

  it("round-trips a full policy exactly", async () => {
    const policy = {
      key_props: { exportable: false, kty: "EC", key_size: 384, reuse_key: true, crv: "P-384" },
      secret_props: { contentType: "application/x-pem-file" },
      x509_props: {
        subject: "CN=full.example, O=Strongroom",
        sans: {
          dns_names: ["full.example", "www.full.example"],
          emails: ["pki@full.example"],
          ipAddresses: ["10.0.0.1"],
        },
        ekus: ["1.3.6.1.5.5.7.3.1"],
        key_usage: ["digitalSignature"],
        validity_months: 3,
        basic_constraints: { ca: false },
      },
      lifetime_actions: [{ trigger: { days_before_expiry: 30 }, action: { action_type: "EmailContacts" } }],
      issuer: { name: "Self", cty: "OV-SSL", cert_transparency: false },
      attributes: { enabled: true },
    };
    const created = await server.kv({
      method: "POST",
      url: `/certificates/full/create?${V}`,
      body: { policy },
    });
    expect(created.statusCode).toBe(202);
    const got = (await server.kv({ method: "GET", url: `/certificates/full/policy?${V}` })).json();
    const { id, attributes, ...rest } = got;
    expect(id).toMatch(/\/certificates\/full\/policy$/);
    expect(attributes.enabled).toBe(true);
    expect(rest).toEqual({ ...policy, attributes: undefined });
  });
});
