import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall } from "../support/access.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

const V = "api-version=7.6";
const digest32 = createHash("sha256").update("x").digest().toString("base64url");

describe("the keys API refuses bad input with Key Vault's errors", () => {
  const clock = fakeClock(new Date());
  let server: InProcess;
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

  beforeAll(async () => {
    server = await startInProcess({ clock });
    await server.kv({ method: "POST", url: `/keys/rsa/create?${V}`, body: { kty: "RSA" } });
    await server.kv({ method: "POST", url: `/keys/ec/create?${V}`, body: { kty: "EC", crv: "P-256" } });
  });
  afterAll(() => server?.stop());

  const create = (name: string, body: unknown) =>
    server.kv({ method: "POST", url: `/keys/${name}/create?${V}`, body });

  it.each([
    ["an unknown kty", { kty: "DSA" }, /Unsupported kty "DSA"/],
    ["an unsupported curve", { kty: "EC", crv: "P-192" }, /Unsupported curve "P-192"/],
    [
      "an RSA size Key Vault does not offer",
      { kty: "RSA", key_size: 1024 },
      /key_size must be 2048, 3072 or 4096/,
    ],
    [
      "a key size on an EC key",
      { kty: "EC", crv: "P-256", key_size: 2048 },
      /key_size is not allowed for EC keys/,
    ],
    ["an even public exponent", { kty: "RSA", public_exponent: 4 }, /public_exponent/],
    [
      "key_ops an EC key cannot do",
      { kty: "EC", key_ops: ["encrypt"] },
      /key_ops "encrypt" is not valid for EC keys/,
    ],
    ["an oct key in a standard vault", { kty: "oct-HSM" }, /premium vault/],
    [
      "an exportable key without a release policy",
      { kty: "RSA", attributes: { exportable: true } },
      /release policy/,
    ],
    ["nbf after exp", { kty: "EC", attributes: { nbf: 2_000_000_000, exp: 1_900_000_000 } }, /nbf/],
    // Over-limit rows: every numeric and list field of a create names the field and its limit.
    [
      "a public exponent above 2^32-1",
      { kty: "RSA", public_exponent: 2 ** 32 + 1 },
      /public_exponent must be an odd integer from 3 to 4294967295 \(2\^32-1\), got 4294967297/,
    ],
    [
      "a public exponent of 1e300",
      { kty: "RSA", public_exponent: 1e300 },
      /public_exponent must be an odd integer from 3 to 4294967295/,
    ],
    ["an RSA key_size of 1e300", { kty: "RSA", key_size: 1e300 }, /key_size must be 2048, 3072 or 4096/],
    [
      "nine key_ops",
      { kty: "RSA", key_ops: [...Array(8).fill("sign"), "verify"] },
      /key_ops may list at most 8 operations, not 9/,
    ],
    ["an exp of 1e300", { kty: "EC", attributes: { exp: 1e300 } }, /attributes\/exp must be <= 253402300799/],
    ["a negative exp", { kty: "EC", attributes: { exp: -1 } }, /attributes\/exp must be >= 0/],
    ["an nbf of 1e300", { kty: "EC", attributes: { nbf: 1e300 } }, /attributes\/nbf must be <= 253402300799/],
    ["a negative nbf", { kty: "EC", attributes: { nbf: -86400 } }, /attributes\/nbf must be >= 0/],
    [
      "16 tags",
      { kty: "EC", tags: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, "x"])) },
      /15 tags/,
    ],
  ])("refuses %s at creation with 400", async (_name, body, message) => {
    const res = await create("bad", body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "BadParameter" });
    expect(res.json().error.message).toMatch(message);
  });

  it("has created nothing after the refused requests", async () => {
    const res = await server.kv({ method: "GET", url: `/keys/bad?${V}` });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("KeyNotFound");
  });

  it("creates an RSA key with a custom public exponent", async () => {
    const res = await create("e3", { kty: "RSA", public_exponent: 3 });
    expect(res.statusCode).toBe(200);
    expect(res.json().key.e).toBe("Aw");
  });

  it("refuses to import an exportable key, which would need a release policy, with 400", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    const res = await server.kv({
      method: "PUT",
      url: `/keys/exportable-import?${V}`,
      body: { key, attributes: { exportable: true } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/Exportable keys must have a release policy/);
    expect((await server.kv({ method: "GET", url: `/keys/exportable-import?${V}` })).statusCode).toBe(404);
  });

  it.each([
    ["a JWK without its private members", { kty: "RSA", n: "AQAB", e: "AQAB" }, /lacks its "d" member/],
    [
      "an EC JWK on an unknown curve",
      { kty: "EC", crv: "P-999", d: "AA", x: "AA", y: "AA" },
      /Unsupported curve/,
    ],
    [
      "an RSA JWK whose members do not form a key",
      { kty: "RSA", n: "AQAB", e: "AQAB", d: "AQ", p: "AQ", q: "AQ", dp: "AQ", dq: "AQ", qi: "AQ" },
      /2048 to 4096 bits|not a valid RSA private key/,
    ],
    ["an oct JWK in a standard vault", { kty: "oct", k: "AAAAAAAAAAAAAAAAAAAAAA" }, /premium vault/],
  ])("refuses to import %s with 400", async (_name, key, message) => {
    const res = await server.kv({ method: "PUT", url: `/keys/imported?${V}`, body: { key } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
  });

  it.each([
    ["an algorithm for another key type", "rsa", { alg: "ES256", value: digest32 }, 400, /incompatible/],
    ["an unknown algorithm", "rsa", { alg: "RS1", value: digest32 }, 400, /Unknown signature algorithm/],
    [
      "a digest of the wrong length",
      "rsa",
      { alg: "RS256", value: Buffer.alloc(20).toString("base64url") },
      400,
      /32-byte digest/,
    ],
    ["an ES384 signature with a P-256 key", "ec", { alg: "ES384", value: digest32 }, 400, /P-384/],
    ["a value that is not base64url", "ec", { alg: "ES256", value: "***" }, 400, /base64url/],
  ])("refuses to sign with %s", async (_name, key, body, status, message) => {
    const res = await server.kv({ method: "POST", url: `/keys/${key}/sign?${V}`, body });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.message).toMatch(message);
  });

  it("refuses to encrypt with an EC key, whose key_ops have no encrypt, with 403", async () => {
    const ec = await server.kv({
      method: "POST",
      url: `/keys/ec/encrypt?${V}`,
      body: { alg: "RSA-OAEP", value: "AQID" },
    });
    expect(ec.statusCode).toBe(403);
    expect(ec.json().error.innererror.code).toBe("KeyOperationForbidden");
  });

  it("refuses to wrap with an AES algorithm and an RSA key with 400", async () => {
    const wrap = await server.kv({
      method: "POST",
      url: `/keys/rsa/wrapkey?${V}`,
      body: { alg: "A256GCM", value: "AQID" },
    });
    expect(wrap.statusCode).toBe(400);
    expect(wrap.json().error.message).toMatch(/A256GCM needs an oct key, and this is an RSA key/);
  });

  it("refuses a ciphertext the key did not make with 400", async () => {
    const res = await server.kv({
      method: "POST",
      url: `/keys/rsa/decrypt?${V}`,
      body: { alg: "RSA-OAEP", value: Buffer.alloc(256, 1).toString("base64url") },
    });
    expect(res.statusCode).toBe(400);
  });

  it("refuses operations its key_ops do not allow with 403", async () => {
    await create("verify-only", { kty: "EC", key_ops: ["verify"] });
    const res = await server.kv({
      method: "POST",
      url: `/keys/verify-only/sign?${V}`,
      body: { alg: "ES256", value: digest32 },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({
      code: "Forbidden",
      innererror: { code: "KeyOperationForbidden" },
    });
  });

  it.each([
    ["a disabled key", { enabled: false }, "KeyDisabled"],
    ["a key that is not yet valid", { nbf: 4_000_000_000 }, "KeyNotYetValid"],
  ])("refuses to sign with %s with 403", async (_name, attributes, reason) => {
    const name = `state-${reason}`;
    await create(name, { kty: "EC", attributes });
    const res = await server.kv({
      method: "POST",
      url: `/keys/${name}/sign?${V}`,
      body: { alg: "ES256", value: digest32 },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.innererror.code).toBe(reason);
  });

  it("refuses to sign with a key once it has expired", async () => {
    await create("expiring", { kty: "EC", attributes: { exp: nowSeconds() + 60 } });
    const sign = () =>
      server.kv({ method: "POST", url: `/keys/expiring/sign?${V}`, body: { alg: "ES256", value: digest32 } });
    expect((await sign()).statusCode).toBe(200);
    clock.advance(120_000);
    const res = await sign();
    expect(res.statusCode).toBe(403);
    expect(res.json().error.innererror.code).toBe("KeyExpired");
  });

  it("never returns private key members", async () => {
    for (const url of [`/keys/rsa?${V}`, `/keys/ec?${V}`, `/keys?${V}`, `/keys/rsa/versions?${V}`]) {
      const body = (await server.kv({ method: "GET", url })).body;
      for (const member of ['"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"', '"k"'])
        expect(body).not.toContain(`${member}:`);
    }
  });

  it.each([
    [
      "an update with nine key_ops",
      "PATCH",
      "/keys/rsa",
      { key_ops: Array(9).fill("sign") },
      /at most 8 operations/,
    ],
    [
      "an update's exp of 1e300",
      "PATCH",
      "/keys/rsa",
      { attributes: { exp: 1e300 } },
      /exp must be <= 253402300799/,
    ],
    ["an update's negative nbf", "PATCH", "/keys/rsa", { attributes: { nbf: -1 } }, /nbf must be >= 0/],
    [
      "an import with nine key_ops",
      "PUT",
      "/keys/imported-ops",
      { key: { kty: "EC", crv: "P-256", x: "AA", y: "AA", d: "AA", key_ops: Array(9).fill("sign") } },
      /at most 8 operations/,
    ],
    ["129 random bytes", "POST", "/rng", { count: 129 }, /count must be an integer from 1 to 128/],
    ["1e300 random bytes", "POST", "/rng", { count: 1e300 }, /count must be an integer from 1 to 128/],
    ["no random bytes", "POST", "/rng", { count: 0 }, /count must be an integer from 1 to 128/],
    [
      "a rotation policy with three lifetime actions",
      "PUT",
      "/keys/rsa/rotationpolicy",
      {
        lifetimeActions: Array.from({ length: 3 }, () => ({
          trigger: { timeBeforeExpiry: "P30D" },
          action: { type: "Notify" },
        })),
      },
      /lifetimeActions may hold at most 2 actions, not 3/,
    ],
    ["maxresults of 26 on a key listing", "GET", "/keys?maxresults=26", undefined, /maxresults/],
  ] as const)(
    "refuses %s with 400 naming the field and its limit",
    async (_name, method, path, body, message) => {
      const res = await server.kv({
        method,
        url: `${path}${path.includes("?") ? "&" : "?"}${V}`,
        ...(body !== undefined && { body }),
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe("BadParameter");
      expect(res.json().error.message).toMatch(message);
      expect((await server.kv({ method: "GET", url: `/keys/imported-ops?${V}` })).statusCode).toBe(404);
    },
  );

  it("refuses a random byte count outside 1-128", async () => {
    const res = await server.kv({ method: "POST", url: `/rng?${V}`, body: { count: 129 } });
    expect(res.statusCode).toBe(400);
  });

  it("refuses a rotation policy with a malformed duration or two Rotate actions", async () => {
    const bad = await server.kv({
      method: "PUT",
      url: `/keys/rsa/rotationpolicy?${V}`,
      body: { lifetimeActions: [{ trigger: { timeAfterCreate: "90 days" }, action: { type: "Rotate" } }] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/ISO 8601/);
    const twice = await server.kv({
      method: "PUT",
      url: `/keys/rsa/rotationpolicy?${V}`,
      body: {
        lifetimeActions: [
          { trigger: { timeAfterCreate: "P90D" }, action: { type: "Rotate" } },
          { trigger: { timeAfterCreate: "P30D" }, action: { type: "Rotate" } },
        ],
      },
    });
    expect(twice.statusCode).toBe(400);
  });
});

describe("importing a key whose halves do not match", () => {
  it("is refused with 400 and stores nothing", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const server = await startInProcess();
    try {
      const a = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
      const b = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
      const res = await server.kv({
        method: "PUT",
        url: `/keys/mixed?${V}`,
        body: { key: { ...a, n: b.n } },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toMatch(/do not form one key pair/);
      expect((await server.kv({ method: "GET", url: `/keys/mixed?${V}` })).statusCode).toBe(404);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!softHsmAvailable)("AES keys in the HSM refuse an algorithm of the other mode", () => {
  const data = tempDataDir();
  let server: InProcess;
  let hsmHost: string;

  beforeAll(async () => {
    const token = createSoftHsmToken(data.dir);
    process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
    server = await startInProcess({
      dataDir: `${data.dir}/server`,
      flags: { pkcs11Module: token.module, pkcs11TokenLabel: token.label, pkcs11Pin: token.pin },
    });
    expect((await adminCall(server, "POST", "/admin/vaults", { name: "hsm", sku: "premium" })).status).toBe(
      201,
    );
    hsmHost = `hsm.localhost:${server.strongroom.port}`;
    const created = await server.kv({
      method: "POST",
      url: `/keys/aes/create?${V}`,
      body: { kty: "oct-HSM", key_size: 256 },
      headers: { host: hsmHost },
    });
    expect(created.statusCode).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  it.each([
    [
      "wrap with A256GCM",
      "wrapkey",
      "A256GCM",
      /A256GCM is not a key-wrapping algorithm: use A128KW, A192KW, A256KW/,
    ],
    ["unwrap with A256CBC", "unwrapkey", "A256CBC", /A256CBC is not a key-wrapping algorithm/],
    [
      "encrypt with A256KW",
      "encrypt",
      "A256KW",
      /A256KW is a key-wrapping algorithm: use wrapKey and unwrapKey/,
    ],
    ["decrypt with A256KW", "decrypt", "A256KW", /A256KW is a key-wrapping algorithm/],
  ])("refuses to %s with 400", async (_name, operation, alg, message) => {
    const res = await server.kv({
      method: "POST",
      url: `/keys/aes/${operation}?${V}`,
      body: {
        alg,
        value: Buffer.alloc(32, 1).toString("base64url"),
        iv: Buffer.alloc(16).toString("base64url"),
      },
      headers: { host: hsmHost },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
  });
});
