import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr, opensslSelfSigned } from "../support/openssl-req.js";
import { pkijsPfx } from "../support/pkijs-pfx.js";
import { tempDataDir } from "../support/server-process.js";

const forge = createRequire(import.meta.url)("node-forge") as typeof import("node-forge");
const V = "api-version=7.6";

/** The bag types of a password-less PFX (base64), as node-forge reads them, e.g. "keyBag certBag". */
function forgeKeyBags(base64: string): string {
  const asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(base64, "base64").toString("binary")));
  const p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, "");
  return p12.safeContents.flatMap((c) => c.safeBags.map((b) => forge.pki.oids[b.type] ?? b.type)).join(" ");
}

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
    // Encrypted keys as openssl writes them: PKCS#8 PBES2 (AES-256), and traditional Proc-Type PEM.
    openssl("pkcs8", "-topk8", "-in", "leaf.key", "-out", "leaf-encrypted.key", "-passout", "pass:pw");
    openssl(
      "rsa",
      "-in",
      "leaf.key",
      "-traditional",
      "-aes256",
      "-out",
      "leaf-traditional-encrypted.key",
      "-passout",
      "pass:pw",
    );
    // Leaves of the same name with other keys, signed by the same intermediate.
    const leafWith = (name: string, newkey: string[]) => {
      openssl(
        "req",
        "-new",
        ...newkey,
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
        "-subj",
        "/CN=leaf.example",
      );
      openssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "inter.pem",
        "-CAkey",
        "inter.key",
        "-CAcreateserial",
        "-days",
        "10",
        "-out",
        `${name}.pem`,
      );
      openssl(
        "pkcs12",
        "-export",
        "-in",
        `${name}.pem`,
        "-inkey",
        `${name}.key`,
        "-certfile",
        "chain.pem",
        "-out",
        `${name}.pfx`,
        "-passout",
        "pass:pw",
      );
    };
    leafWith("rsa4096", ["-newkey", "rsa:4096"]);
    leafWith("ec384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]);
    // openssl 3 writes SEC 1 ("BEGIN EC PRIVATE KEY") from `ec`, PKCS#8 from `req` and `pkey`.
    openssl("ec", "-in", "ec384.key", "-out", "ec384-traditional.key");
    // A root with the real root's name and a key of its own: it signed nothing here.
    opensslSelfSigned(join(work.dir, "fake-root.key"), join(work.dir, "fake-root.pem"), "/CN=Test Root", {
      days: 30,
    });
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

  it("imports a PFX written by pkijs, its key in a PBES2 shrouded key bag", async () => {
    const pkcs8 = createPrivateKey(text("leaf.key")).export({ format: "der", type: "pkcs8" });
    const chain = ["leaf.pem", "inter.pem", "root.pem"].map((f) =>
      Buffer.from(new X509Certificate(file(f)).raw),
    );
    const { pfx } = await pkijsPfx(pkcs8, chain, { password: "pkijs", shroudKey: true });
    const inspected = await expectImported("pkijs", { value: pfx.toString("base64"), pwd: "pkijs" });
    expect(inspected).toMatchObject({ chainLength: 3, chain: { complete: true } });
  });

  it("imports the backing secret of another certificate (the PFX Strongroom assembles)", async () => {
    const secret = await server.kv({ method: "GET", url: `/secrets/modern?${V}` });
    const inspected = await expectImported("from-secret", { value: secret.json().value });
    expect(inspected).toMatchObject({ chainLength: 3, chain: { complete: true } });
  });

  const policyOf = async (name: string) =>
    (await server.kv({ method: "GET", url: `/certificates/${name}/policy?${V}` })).json();
  const pem = { secret_props: { contentType: "application/x-pem-file" } };

  // Key Vault sets key_props from the imported key (about-certificates: "a default policy by reading
  // the X.509 certificate"); renewals make their keys from it.
  it.each([
    [
      "an RSA-4096 PFX",
      "import-rsa4096",
      () => ({ value: file("rsa4096.pfx").toString("base64"), pwd: "pw" }),
      { kty: "RSA", key_size: 4096, crv: undefined, exportable: true },
    ],
    [
      "an EC P-384 PFX",
      "import-ec384",
      () => ({ value: file("ec384.pfx").toString("base64"), pwd: "pw" }),
      { kty: "EC", key_size: 384, crv: "P-384", exportable: true },
    ],
    [
      "a traditional EC PEM (BEGIN EC PRIVATE KEY)",
      "import-ec-traditional",
      () => ({ value: text("ec384-traditional.key") + text("ec384.pem") + text("chain.pem"), policy: pem }),
      { kty: "EC", key_size: 384, crv: "P-384", exportable: true },
    ],
    [
      "an EC PFX whose policy asks only for a non-exportable key",
      "import-ec-sealed",
      () => ({
        value: file("ec384.pfx").toString("base64"),
        pwd: "pw",
        policy: { key_props: { exportable: false } },
      }),
      { kty: "EC", key_size: 384, crv: "P-384", exportable: false },
    ],
  ])("takes the key type, size and curve of %s into the policy", async (_what, name, body, keyProps) => {
    const inspected = await expectImported(name, body());
    expect(inspected).toMatchObject({ chainLength: 3, chain: { complete: true } });
    expect((await policyOf(name)).key_props).toEqual({ reuse_key: false, ...keyProps });
    const key = (await server.kv({ method: "GET", url: `/keys/${name}?${V}` })).json().key;
    expect(key.kty).toBe(keyProps.kty);
    if (keyProps.crv) expect(key.crv).toBe(keyProps.crv);
    const secret = (await server.kv({ method: "GET", url: `/secrets/${name}?${V}` })).json();
    const held = secret.contentType === "application/x-pem-file" ? secret.value : forgeKeyBags(secret.value);
    expect(/PRIVATE KEY|keyBag/.test(held)).toBe(keyProps.exportable);
  });

  it("renews an imported EC certificate whose policy named key_props with an EC key of the same curve", async () => {
    await expectImported("renewed-ec", {
      value: file("ec384.pfx").toString("base64"),
      pwd: "pw",
      policy: { key_props: { reuse_key: false } },
    });
    const created = await server.createCertificate("renewed-ec", { policy: { issuer: { name: "Self" } } });
    expect(created.json().status, created.body).toBe("completed");
    const versions = (await server.kv({ method: "GET", url: `/keys/renewed-ec/versions?${V}` })).json().value;
    expect(versions).toHaveLength(2);
    const renewed = (await server.kv({ method: "GET", url: `/certificates/renewed-ec?${V}` })).json();
    const key = new X509Certificate(Buffer.from(renewed.cer, "base64")).publicKey;
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
  });

  it("renews an imported certificate under the same subject, special characters and all", async () => {
    openssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "odd.key",
      "-out",
      "odd.pem",
      "-days",
      "2",
      "-utf8",
      "-subj",
      "/CN=Comma, Inc./O=Equals=Sign/OU=Plus \\+ Sign/L=Café",
    );
    const imported = await importAs("odd-subject", { value: text("odd.key") + text("odd.pem"), policy: pem });
    expect(imported.statusCode, imported.body).toBe(200);
    const renewed = await server.createCertificate("odd-subject", { policy: { issuer: { name: "Self" } } });
    expect(renewed.json().status, renewed.body).toBe("completed");
    const cer = (await server.kv({ method: "GET", url: `/certificates/odd-subject?${V}` })).json().cer;
    const subjectOf = (der: Buffer) => new X509Certificate(der).subject;
    expect(subjectOf(Buffer.from(cer, "base64"))).toBe(subjectOf(file("odd.pem")));
    expect(subjectOf(file("odd.pem"))).toBe("CN=Comma\\, Inc.\nO=Equals=Sign\nOU=Plus \\+ Sign\nL=Café");
  });

  it("records a chain whose root has the right name but the wrong key as incomplete, naming that issuer", async () => {
    const inspected = await expectImported("fake-root", {
      value: text("leaf.key") + text("leaf.pem") + text("inter.pem") + text("fake-root.pem"),
      policy: pem,
    });
    expect(inspected.chain).toEqual({ complete: false, missingIssuer: "CN=Test Root", signatureFails: true });
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

  // The Python SDK base64-encodes every value it imports; Key Vault takes "PEM content or Base64
  // encoded PEM content".
  const base64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");

  it.each([
    [
      "PEM encoded in base64, as the Python SDK sends it",
      () => ({ value: base64(text("leaf.key") + text("leaf.pem") + text("chain.pem")) }),
    ],
    [
      "PEM with an encrypted PKCS#8 key and its password",
      () => ({ value: text("leaf-encrypted.key") + text("leaf.pem") + text("chain.pem"), pwd: "pw" }),
    ],
    [
      "base64 of PEM with an encrypted PKCS#8 key and its password",
      () => ({ value: base64(text("leaf-encrypted.key") + text("leaf.pem") + text("chain.pem")), pwd: "pw" }),
    ],
    [
      "PEM with a traditional encrypted key (Proc-Type) and its password",
      () => ({
        value: text("leaf-traditional-encrypted.key") + text("leaf.pem") + text("chain.pem"),
        pwd: "pw",
      }),
    ],
    [
      "base64 of PEM whose policy says application/x-pem-file",
      () => ({
        value: base64(text("leaf.pem") + text("leaf.key")),
        policy: { secret_props: { contentType: "application/x-pem-file" } },
      }),
    ],
  ])("imports %s and keeps it as PEM", async (_name, body) => {
    const name = `pem-${randomBytes(4).toString("hex")}`;
    await expectImported(name, body());
    const secret = await server.kv({ method: "GET", url: `/secrets/${name}?${V}` });
    expect(secret.json().contentType).toBe("application/x-pem-file");
    const key = createPrivateKey(secret.json().value as string).export({ format: "jwk" });
    expect(key.n).toBe(createPrivateKey(text("leaf.key")).export({ format: "jwk" }).n);
  });

  it("records an incomplete chain and names the missing issuer", async () => {
    const inspected = await expectImported("no-intermediate", {
      value: text("leaf.key") + text("leaf.pem") + text("root.pem"),
      policy: { secret_props: { contentType: "application/x-pem-file" } },
    });
    expect(inspected.chain).toEqual({ complete: false, missingIssuer: "CN=Test Intermediate" });
  });

  /** Runs `work` with the default vault's requireCompleteChain on, and turns it off again. */
  async function inStrictVault<T>(work: () => Promise<T>): Promise<T> {
    const strict = async (on: boolean) => {
      const res = await server.strongroom.app.inject({
        method: "PATCH",
        url: "/admin/vaults/default",
        headers: { authorization: `Bearer ${await server.token()}`, "content-type": "application/json" },
        payload: JSON.stringify({ requireCompleteChain: on }),
      });
      expect(res.statusCode).toBe(200);
    };
    await strict(true);
    try {
      return await work();
    } finally {
      await strict(false);
    }
  }

  it.each([
    [
      "a chain without its intermediate",
      () => text("leaf.key") + text("leaf.pem"),
      /requires complete chains: the issuer "CN=Test Intermediate" is missing; import it with the certificate/,
    ],
    [
      "a chain whose root does not verify",
      () => text("leaf.key") + text("leaf.pem") + text("inter.pem") + text("fake-root.pem"),
      /requires complete chains: the certificate given as the issuer "CN=Test Root" did not sign the one below it/,
    ],
  ])("refuses %s in a vault that requires complete chains", async (_what, value, message) => {
    const res = await inStrictVault(() => importAs("strict", { value: value() }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
    // A certificate GET also answers for a pending operation, so its 404 says none was left either.
    for (const collection of ["certificates", "keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/strict?${V}` })).statusCode).toBe(404);
    }
  });

  it("refuses to restore a backup with an incomplete chain into a vault that requires complete chains", async () => {
    await expectImported("restored-lax", { value: text("leaf.key") + text("leaf.pem"), policy: pem });
    const backup = (
      await server.kv({ method: "POST", url: `/certificates/restored-lax/backup?${V}` })
    ).json();
    await server.kv({ method: "DELETE", url: `/certificates/restored-lax?${V}` });
    expect(
      (await server.kv({ method: "DELETE", url: `/deletedcertificates/restored-lax?${V}` })).statusCode,
    ).toBe(204);
    const restore = () => server.kv({ method: "POST", url: `/certificates/restore?${V}`, body: backup });
    const refused = await inStrictVault(restore);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.message).toMatch(
      /requires complete chains: the issuer "CN=Test Intermediate"/,
    );
    for (const collection of ["certificates", "keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/restored-lax?${V}` })).statusCode).toBe(
        404,
      );
    }
    expect((await restore()).statusCode).toBe(200);
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
    [
      "an encrypted PEM key with a wrong password",
      () => ({ value: text("leaf-encrypted.key") + text("leaf.pem"), pwd: "wrong" }),
      /password is wrong/,
    ],
    [
      "base64 of an encrypted PEM key with a wrong password",
      () => ({ value: base64(text("leaf-encrypted.key") + text("leaf.pem")), pwd: "wrong" }),
      /password is wrong/,
    ],
    [
      "a traditional encrypted PEM key with a wrong password",
      () => ({ value: text("leaf-traditional-encrypted.key") + text("leaf.pem"), pwd: "wrong" }),
      /password is wrong/,
    ],
    [
      "an encrypted PEM key without a password",
      () => ({ value: text("leaf-encrypted.key") + text("leaf.pem") }),
      /encrypted: give its password in pwd/,
    ],
    ["a certificate without its key", () => ({ value: text("leaf.pem") }), /no private key/],
    [
      "an EC key with a policy for RSA 4096",
      () => ({
        value: file("ec384.pfx").toString("base64"),
        pwd: "pw",
        policy: { key_props: { kty: "RSA", key_size: 4096 } },
      }),
      /policy\.key_props\.kty: "RSA" contradicts the imported key, which is EC/,
    ],
    [
      "an RSA-4096 key with a policy for 2048 bits",
      () => ({
        value: file("rsa4096.pfx").toString("base64"),
        pwd: "pw",
        policy: { key_props: { key_size: 2048 } },
      }),
      /policy\.key_props\.key_size: 2048 contradicts the imported key's 4096 bits/,
    ],
    [
      "a P-384 key with a policy for P-256",
      () => ({
        value: file("ec384.pfx").toString("base64"),
        pwd: "pw",
        policy: { key_props: { kty: "EC", crv: "P-256" } },
      }),
      /policy\.key_props\.crv: "P-256" contradicts the imported key's curve P-384/,
    ],
  ])("refuses %s with 400 and stores nothing", async (_name, body, message) => {
    const res = await importAs("refused", body());
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
    for (const collection of ["certificates", "keys", "secrets"]) {
      expect((await server.kv({ method: "GET", url: `/${collection}/refused?${V}` })).statusCode).toBe(404);
    }
  });
});
