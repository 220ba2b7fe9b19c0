import { createHash, generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";
const digest = createHash("sha256").update("signed by a certificate's key").digest().toString("base64url");
const DAY_MS = 86_400_000;

describe("a certificate's key and secret change only through the certificate", () => {
  const clock = fakeClock(new Date());
  let server: InProcess;

  const createSelfSigned = (name: string) =>
    server.createCertificate(name, {
      policy: { issuer: { name: "Self" }, x509_props: { subject: `CN=${name}.example` } },
    });

  beforeAll(async () => {
    server = await startInProcess({ clock });
    await createSelfSigned("managed");
  });
  afterAll(() => server?.stop());
  const versions = async (collection: string, name: string) =>
    (await server.kv({ method: "GET", url: `/${collection}/${name}/versions?${V}` })).json().value.length;
  const sign = (name: string, version = "") =>
    server.kv({
      method: "POST",
      url: `/keys/${name}/${version ? `${version}/` : ""}sign?${V}`,
      body: { alg: "RS256", value: digest },
    });
  const expectManagedRefusal = (
    res: Awaited<ReturnType<InProcess["kv"]>>,
    noun: "Key" | "Secret",
    operation: string,
  ) => {
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().error).toEqual({
      code: "Forbidden",
      message: expect.stringMatching(
        new RegExp(
          `^Operation "${operation}" is not allowed on ${noun.toLowerCase()} managed: its lifetime is managed by certificate managed; use the certificates API`,
        ),
      ),
      innererror: { code: `${noun}ManagedByKeyVault` },
    });
  };

  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });

  it.each([
    ["Key", "delete", "DELETE", "/keys/managed", undefined],
    ["Key", "update", "PATCH", "/keys/managed", { attributes: { enabled: false } }],
    ["Key", "rotate", "POST", "/keys/managed/rotate", undefined],
    [
      "Key",
      "setrotationpolicy",
      "PUT",
      "/keys/managed/rotationpolicy",
      { lifetimeActions: [{ trigger: { timeAfterCreate: "P30D" }, action: { type: "Rotate" } }] },
    ],
    ["Key", "import", "PUT", "/keys/managed", { key: { ...jwk, kty: "EC" } }],
    ["Key", "create", "POST", "/keys/managed/create", { kty: "RSA" }],
    ["Secret", "delete", "DELETE", "/secrets/managed", undefined],
    ["Secret", "update", "PATCH", "/secrets/managed", { attributes: { enabled: false } }],
    ["Secret", "set", "PUT", "/secrets/managed", { value: "overwritten" }],
    ["Key", "backup", "POST", "/keys/managed/backup", undefined],
    ["Secret", "backup", "POST", "/secrets/managed/backup", undefined],
  ] as const)(
    "refuses a direct %s %s with 403 and changes nothing",
    async (noun, operation, method, path, body) => {
      const res = await server.kv({ method, url: `${path}?${V}`, ...(body !== undefined && { body }) });
      expectManagedRefusal(res, noun, operation);
      expect([
        await versions("certificates", "managed"),
        await versions("keys", "managed"),
        await versions("secrets", "managed"),
      ]).toEqual([1, 1, 1]);
      expect((await server.kv({ method: "GET", url: `/keys/managed?${V}` })).json()).toMatchObject({
        managed: true,
        attributes: { enabled: true },
      });
      expect((await server.kv({ method: "GET", url: `/secrets/managed?${V}` })).json().managed).toBe(true);
    },
  );

  it.each([
    ["Key", "recover", "POST", "/deletedkeys/managed/recover"],
    ["Key", "purge", "DELETE", "/deletedkeys/managed"],
    ["Secret", "recover", "POST", "/deletedsecrets/managed/recover"],
    ["Secret", "purge", "DELETE", "/deletedsecrets/managed"],
  ] as const)(
    "refuses a direct %s %s of a deleted certificate's backing object with 403",
    async (noun, operation, method, path) => {
      expect((await server.kv({ method: "DELETE", url: `/certificates/managed?${V}` })).statusCode).toBe(200);
      const res = await server.kv({ method, url: `${path}?${V}` });
      expectManagedRefusal(res, noun, operation);
      expect((await server.kv({ method: "GET", url: `/deletedkeys/managed?${V}` })).statusCode).toBe(200);
      expect((await server.kv({ method: "GET", url: `/deletedsecrets/managed?${V}` })).statusCode).toBe(200);
      expect(
        (await server.kv({ method: "POST", url: `/deletedcertificates/managed/recover?${V}` })).statusCode,
      ).toBe(200);
    },
  );

  it("still signs and decrypts with a certificate's key and reads its secret", async () => {
    await createSelfSigned("usable");
    expect((await sign("usable")).statusCode).toBe(200);
    const encrypted = await server.kv({
      method: "POST",
      url: `/keys/usable/encrypt?${V}`,
      body: { alg: "RSA-OAEP-256", value: Buffer.from("for the certificate key").toString("base64url") },
    });
    const decrypted = await server.kv({
      method: "POST",
      url: `/keys/usable/decrypt?${V}`,
      body: { alg: "RSA-OAEP-256", value: encrypted.json().value },
    });
    expect(Buffer.from(decrypted.json().value, "base64url").toString()).toBe("for the certificate key");
    expect((await server.kv({ method: "GET", url: `/secrets/usable?${V}` })).json().value).toBeTruthy();
  });

  it("makes a certificate's next version after its key's rotation was refused", async () => {
    await createSelfSigned("renewed");
    expect((await server.kv({ method: "POST", url: `/keys/renewed/rotate?${V}` })).statusCode).toBe(403);
    const next = await server.createCertificate("renewed", {});
    expect(next.statusCode, next.body).toBe(202);
    expect(next.json().status).toBe("completed");
    expect([
      await versions("certificates", "renewed"),
      await versions("keys", "renewed"),
      await versions("secrets", "renewed"),
    ]).toEqual([2, 2, 2]);
  });

  it.each([
    ["key", "keys", { kty: "EC", crv: "P-256" }],
    ["secret", "secrets", { value: "someone else's" }],
  ])(
    "refuses a certificate over a %s of the same name that no certificate manages, and leaves it as it was",
    async (noun, collection, body) => {
      const name = `plain-${noun}`;
      const made = await server.kv({
        method: collection === "keys" ? "POST" : "PUT",
        url: collection === "keys" ? `/keys/${name}/create?${V}` : `/secrets/${name}?${V}`,
        body,
      });
      expect(made.statusCode, made.body).toBe(200);
      const refused = await createSelfSigned(name);
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.json().error).toMatchObject({
        code: "Conflict",
        message: `A ${noun} named ${name} already exists and is not managed by a certificate; choose another certificate name`,
      });
      expect(await versions(collection, name)).toBe(1);
      expect((await server.kv({ method: "GET", url: `/certificates/${name}?${V}` })).statusCode).toBe(404);
      const other = collection === "keys" ? "secrets" : "keys";
      expect((await server.kv({ method: "GET", url: `/${other}/${name}?${V}` })).statusCode).toBe(404);
    },
  );

  it("leaves a deleted certificate's key and secret to the certificate's purge when their retention ends", async () => {
    await createSelfSigned("expiring");
    await server.kv({ method: "DELETE", url: `/certificates/expiring?${V}` });
    clock.advance(91 * DAY_MS);
    const { core } = server.strongroom;
    const vault = await core.vaults.find("default");
    if (!vault) throw new Error("no default vault");
    expect(await core.keys.purgeDue(vault, "expiring")).toBe(false);
    expect(await core.secrets.purgeDue(vault, "expiring")).toBe(false);
    expect((await server.kv({ method: "GET", url: `/deletedcertificates/expiring?${V}` })).statusCode).toBe(
      200,
    );
    expect((await server.kv({ method: "GET", url: `/deletedkeys/expiring?${V}` })).statusCode).toBe(200);
    expect(await core.certificates.purgeDue(vault, "expiring")).toBe(true);
    expect((await server.kv({ method: "GET", url: `/deletedkeys/expiring?${V}` })).statusCode).toBe(404);
    expect((await server.kv({ method: "GET", url: `/deletedsecrets/expiring?${V}` })).statusCode).toBe(404);
  });
});

describe("a certificate's enabled attribute is its key's and secret's", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
  });
  afterAll(() => server?.stop());

  const create = (name: string) =>
    server.createCertificate(name, {
      policy: { issuer: { name: "Self" }, x509_props: { subject: `CN=${name}.example` } },
    });
  const patch = (path: string, body: unknown) =>
    server.kv({ method: "PATCH", url: `/certificates/${path}?${V}`, body });
  const sign = (name: string, version = "") =>
    server.kv({
      method: "POST",
      url: `/keys/${name}/${version ? `${version}/` : ""}sign?${V}`,
      body: { alg: "RS256", value: digest },
    });
  const readSecret = (name: string, version = "") =>
    server.kv({ method: "GET", url: `/secrets/${name}/${version}?${V}` });

  it("disables the key and secret with the certificate, and enables all three again", async () => {
    await create("switched");
    expect((await patch("switched", { attributes: { enabled: false } })).json().attributes.enabled).toBe(
      false,
    );
    const refusedSign = await sign("switched");
    expect(refusedSign.statusCode).toBe(403);
    expect(refusedSign.json().error.innererror.code).toBe("KeyDisabled");
    const refusedRead = await readSecret("switched");
    expect(refusedRead.statusCode).toBe(403);
    expect(refusedRead.json().error.innererror.code).toBe("SecretDisabled");
    expect((await server.kv({ method: "GET", url: `/keys/switched?${V}` })).json().attributes.enabled).toBe(
      false,
    );

    await patch("switched", { attributes: { enabled: true } });
    expect((await sign("switched")).statusCode).toBe(200);
    expect((await readSecret("switched")).statusCode).toBe(200);
  });

  it("disables only the key and secret of the version that is disabled", async () => {
    await create("two");
    const first = (await server.kv({ method: "GET", url: `/certificates/two?${V}` })).json();
    const firstVersion = first.id.split("/").pop() as string;
    await server.createCertificate("two", {});
    await patch(`two/${firstVersion}`, { attributes: { enabled: false } });
    expect((await sign("two", firstVersion)).statusCode).toBe(403);
    expect((await readSecret("two", firstVersion)).statusCode).toBe(403);
    expect((await sign("two")).statusCode).toBe(200);
    expect((await readSecret("two")).statusCode).toBe(200);
  });

  it("changes nothing, enabled included, when the policy in the same update is refused", async () => {
    await create("unchanged");
    const refused = await patch("unchanged", {
      attributes: { enabled: false },
      policy: { x509_props: { validity_months: 0 } },
    });
    expect(refused.statusCode).toBe(400);
    expect(
      (await server.kv({ method: "GET", url: `/certificates/unchanged?${V}` })).json().attributes.enabled,
    ).toBe(true);
    expect((await sign("unchanged")).statusCode).toBe(200);
  });
});
