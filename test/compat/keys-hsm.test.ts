import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  verify as nodeVerify,
  publicEncrypt,
  randomBytes,
} from "node:crypto";
import { CertificateClient } from "@azure/keyvault-certificates";
import { CryptographyClient, type JsonWebKey, KeyClient, type KeyVaultKey } from "@azure/keyvault-keys";
import * as graphene from "graphene-pk11";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPost, adminToken, httpsClient } from "../support/https-client.js";
import { byokBlob, nodePublicKey, sdkJwk } from "../support/keys.js";
import { collect, keyUserWithoutRead, requestLog, sdkOptions } from "../support/sdk.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, pkcs11Env, type SoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

const b64 = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("base64url");
const poll = { intervalInMs: 50 };

// The same operations as the software suite, on a premium vault whose -HSM keys live in SoftHSM2.
describe.skipIf(!softHsmAvailable)("HSM-protected keys in a premium vault backed by SoftHSM2", () => {
  const data = tempDataDir();
  let token: SoftHsmToken;
  let server: ServerProcess;
  let client: KeyClient;
  let crypto: (key: KeyVaultKey) => CryptographyClient;
  let remoteOnly: (key: KeyVaultKey) => { crypto: CryptographyClient; seen: string[] };
  let standard: KeyClient;
  let certificates: CertificateClient;

  /** A logged-in session on the token from this process, beside the server's own. */
  function withToken<T>(use: (session: graphene.Session, slot: graphene.Slot) => T): T {
    process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
    const mod = graphene.Module.load(token.module);
    mod.initialize();
    try {
      const slot = mod.getSlots(0, true);
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION);
      session.login(token.pin);
      try {
        return use(session, slot);
      } finally {
        session.logout();
        session.close();
      }
    } finally {
      mod.finalize();
    }
  }

  /** How many token objects (public and private) hold this RSA modulus. */
  const objectsWithModulus = (key: KeyVaultKey) =>
    withToken((session) => session.find({ modulus: Buffer.from(key.key?.n ?? []) }).length);

  beforeAll(async () => {
    token = createSoftHsmToken(data.dir);
    server = await startServerProcess(
      `${data.dir}/server`,
      ["--host", "127.0.0.1,127.0.0.2", "--alias", "127.0.0.2=hsm"],
      pkcs11Env(token),
    );
    await adminPost(server, "/admin/vaults", { name: "hsm", sku: "premium" });
    const { credential, clientOptions } = sdkOptions(server);
    client = new KeyClient(`https://127.0.0.2:${server.port}`, credential, clientOptions);
    standard = new KeyClient(server.admin.vaultUrl, credential, clientOptions);
    certificates = new CertificateClient(`https://127.0.0.2:${server.port}`, credential, clientOptions);
    crypto = (key) => new CryptographyClient(key.id ?? "", credential, clientOptions);
    const user = await keyUserWithoutRead(server, "hsm");
    remoteOnly = (key) => {
      const log = requestLog();
      const options = { ...clientOptions, additionalPolicies: [log.policy] };
      return { crypto: new CryptographyClient(key.id ?? "", user, options), seen: log.seen };
    };
  });

  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  it("generates RSA-HSM keys and signs with every RSA algorithm", async () => {
    const key = await client.createKey("hsm-rsa", "RSA-HSM", { keySize: 2048 });
    expect(key.keyType).toBe("RSA-HSM");
    expect(key.key?.d).toBeUndefined();
    for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const) {
      const hash = `sha${alg.slice(2)}`;
      const digest = createHash(hash).update(alg).digest();
      const { result } = await crypto(key).sign(alg, digest);
      const options = alg.startsWith("PS")
        ? { key: nodePublicKey(key), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length }
        : nodePublicKey(key);
      expect(nodeVerify(hash, Buffer.from(alg), options, Buffer.from(result)), alg).toBe(true);
    }
  });

  it("generates EC-HSM keys on every curve and signs with them", async () => {
    for (const [curve, alg, hash] of [
      ["P-256", "ES256", "sha256"],
      ["P-384", "ES384", "sha384"],
      ["P-521", "ES512", "sha512"],
      ["P-256K", "ES256K", "sha256"],
    ] as const) {
      const key = await client.createKey(`hsm-${curve}`, "EC-HSM", { curve });
      const digest = createHash(hash).update(curve).digest();
      const { result } = await crypto(key).sign(alg, digest);
      const ok = nodeVerify(
        hash,
        Buffer.from(curve),
        { key: nodePublicKey(key), dsaEncoding: "ieee-p1363" },
        Buffer.from(result),
      );
      expect(ok, curve).toBe(true);
    }
  });

  it("decrypts RSA ciphertexts made locally by the SDK", async () => {
    const key = await client.createKey("hsm-cipher", "RSA-HSM");
    for (const algorithm of ["RSA1_5", "RSA-OAEP"] as const) {
      const encrypted = await crypto(key).encrypt({ algorithm, plaintext: Buffer.from("in the token") });
      const decrypted = await crypto(key).decrypt({ algorithm, ciphertext: encrypted.result });
      expect(Buffer.from(decrypted.result).toString(), algorithm).toBe("in the token");
    }
  });

  it("says plainly when the HSM lacks a mechanism (SoftHSM2 2.6 implements OAEP with SHA-1 only)", async () => {
    const key = await client.getKey("hsm-cipher");
    const encrypted = await crypto(key).encrypt({ algorithm: "RSA-OAEP-256", plaintext: Buffer.from("x") });
    await expect(
      crypto(key).decrypt({ algorithm: "RSA-OAEP-256", ciphertext: encrypted.result }),
    ).rejects.toMatchObject({
      statusCode: 400,
      message: "The HSM does not support RSA-OAEP-256 with this key; choose another algorithm",
    });
  });

  it("encrypts and wraps on the server with RSA-HSM keys, and the token decrypts and unwraps", async () => {
    const key = await client.createKey("hsm-remote", "RSA-HSM");
    const { crypto: remote, seen } = remoteOnly(key);
    const path = `/keys/hsm-remote/${key.properties.version}`;
    const cek = randomBytes(32);
    for (const algorithm of ["RSA1_5", "RSA-OAEP"] as const) {
      const wrapped = await remote.wrapKey(algorithm, cek);
      expect(Buffer.from((await remote.unwrapKey(algorithm, wrapped.result)).result), algorithm).toEqual(cek);
      const padding =
        algorithm === "RSA1_5"
          ? { padding: constants.RSA_PKCS1_PADDING }
          : { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" };
      const local = publicEncrypt({ key: nodePublicKey(key), ...padding }, cek);
      expect(Buffer.from((await remote.unwrapKey(algorithm, local)).result), algorithm).toEqual(cek);
      const encrypted = await remote.encrypt({ algorithm, plaintext: Buffer.from("through the token") });
      const decrypted = await remote.decrypt({ algorithm, ciphertext: encrypted.result });
      expect(Buffer.from(decrypted.result).toString(), algorithm).toBe("through the token");
    }
    expect(seen[0]).toBe(`GET ${path} 403`);
    expect(seen.filter((r) => r === `POST ${path}/wrapkey 200`)).toHaveLength(2);
    expect(seen.filter((r) => r === `POST ${path}/encrypt 200`)).toHaveLength(2);
  });

  it("wraps with RSA-OAEP-256 on the server, and says plainly that SoftHSM2 cannot unwrap it", async () => {
    const key = await client.getKey("hsm-remote");
    const { crypto: remote, seen } = remoteOnly(key);
    const wrapped = await remote.wrapKey("RSA-OAEP-256", randomBytes(32));
    expect(seen).toContain(`POST /keys/hsm-remote/${key.properties.version}/wrapkey 200`);
    await expect(remote.unwrapKey("RSA-OAEP-256", wrapped.result)).rejects.toMatchObject({
      statusCode: 400,
      message: "The HSM does not support RSA-OAEP-256 with this key; choose another algorithm",
    });
  });

  it("encrypts and decrypts with oct-HSM keys: AES-GCM, AES-CBC and AES-CBC with padding", async () => {
    for (const size of [128, 192, 256] as const) {
      const key = await client.createOctKey(`aes-${size}`, { hsm: true, keySize: size });
      expect(key.keyType).toBe("oct-HSM");
      expect(key.key?.k).toBeUndefined();
      const gcm = `A${size}GCM` as const;
      const aad = Buffer.from("header");
      const sealed = await crypto(key).encrypt({
        algorithm: gcm,
        plaintext: Buffer.from("gcm text"),
        additionalAuthenticatedData: aad,
      });
      const opened = await crypto(key).decrypt({
        algorithm: gcm,
        ciphertext: sealed.result,
        iv: sealed.iv as Uint8Array,
        authenticationTag: sealed.authenticationTag as Uint8Array,
        additionalAuthenticatedData: aad,
      });
      expect(Buffer.from(opened.result).toString()).toBe("gcm text");

      const tag = Buffer.from(sealed.authenticationTag as Uint8Array);
      tag[0] = (tag[0] ?? 0) ^ 1;
      await expect(
        crypto(key).decrypt({
          algorithm: gcm,
          ciphertext: sealed.result,
          iv: sealed.iv as Uint8Array,
          authenticationTag: tag,
          additionalAuthenticatedData: aad,
        }),
      ).rejects.toMatchObject({ statusCode: 400 });

      const iv = randomBytes(16);
      const padded = `A${size}CBCPAD` as const;
      const cbc = await crypto(key).encrypt({ algorithm: padded, plaintext: Buffer.from("any length"), iv });
      expect(
        Buffer.from(
          (await crypto(key).decrypt({ algorithm: padded, ciphertext: cbc.result, iv })).result,
        ).toString(),
      ).toBe("any length");
      const block = `A${size}CBC` as const;
      const exact = await crypto(key).encrypt({ algorithm: block, plaintext: Buffer.alloc(32, 7), iv });
      expect(
        Buffer.from((await crypto(key).decrypt({ algorithm: block, ciphertext: exact.result, iv })).result),
      ).toEqual(Buffer.alloc(32, 7));
    }
  });

  it("wraps and unwraps keys with AES key wrap of every size", async () => {
    for (const size of [128, 192, 256] as const) {
      const key = await client.createOctKey(`kek-${size}`, { hsm: true, keySize: size });
      const algorithm = `A${size}KW` as const;
      const cek = randomBytes(32);
      const wrapped = await crypto(key).wrapKey(algorithm, cek);
      expect(wrapped.result, algorithm).toHaveLength(40);
      // The AES key never leaves the token, so only the token's unwrap can check its wrap.
      const unwrapped = await crypto(key).unwrapKey(algorithm, wrapped.result);
      expect(Buffer.from(unwrapped.result).equals(cek), algorithm).toBe(true);
      const tampered = Buffer.from(wrapped.result);
      tampered[3] = (tampered[3] ?? 0) ^ 1;
      await expect(crypto(key).unwrapKey(algorithm, tampered), algorithm).rejects.toMatchObject({
        statusCode: 400,
      });
    }
  });

  it("lists HSM keys and their versions", async () => {
    const first = await client.createKey("hsm-listed", "EC-HSM");
    const second = await client.createKey("hsm-listed", "EC-HSM");
    const versions = await collect(client.listPropertiesOfKeyVersions("hsm-listed"));
    expect(versions.map((v) => v.version)).toEqual([first.properties.version, second.properties.version]);
    const listed = (await collect(client.listPropertiesOfKeys())).find((p) => p.name === "hsm-listed");
    expect(listed?.id).toBe(`https://127.0.0.2:${server.port}/keys/hsm-listed`);
    expect((await client.getKey("hsm-listed")).properties.version).toBe(second.properties.version);
  });

  it("updates an HSM key's operations, tags and expiry", async () => {
    const key = await client.createKey("hsm-updated", "EC-HSM");
    const expiresOn = new Date("2031-06-01T00:00:00Z");
    const updated = await client.updateKeyProperties("hsm-updated", key.properties.version ?? "", {
      keyOps: ["verify"],
      tags: { owner: "hsm-team" },
      expiresOn,
    });
    expect(updated.keyOperations).toEqual(["verify"]);
    expect(updated.properties.tags).toEqual({ owner: "hsm-team" });
    expect(updated.properties.expiresOn).toEqual(expiresOn);
    const reread = await client.getKey("hsm-updated");
    expect([reread.keyOperations, reread.properties.tags, reread.properties.expiresOn]).toEqual([
      ["verify"],
      { owner: "hsm-team" },
      expiresOn,
    ]);
  });

  it("deletes and recovers an HSM key, which still signs with its token object", async () => {
    const key = await client.createKey("hsm-recovered", "EC-HSM");
    const deleted = await (await client.beginDeleteKey("hsm-recovered", poll)).pollUntilDone();
    expect(deleted.properties.recoveryId).toBe(`https://127.0.0.2:${server.port}/deletedkeys/hsm-recovered`);
    expect((await client.getDeletedKey("hsm-recovered")).keyType).toBe("EC-HSM");
    expect((await collect(client.listDeletedKeys())).map((d) => d.name)).toContain("hsm-recovered");
    await (await client.beginRecoverDeletedKey("hsm-recovered", poll)).pollUntilDone();
    const digest = createHash("sha256").update("recovered").digest();
    const { result } = await crypto(key).sign("ES256", digest);
    const ok = nodeVerify(
      "sha256",
      Buffer.from("recovered"),
      { key: nodePublicKey(key), dsaEncoding: "ieee-p1363" },
      Buffer.from(result),
    );
    expect(ok).toBe(true);
  });

  it("purges an HSM key and destroys its objects in the token, and no other key's", async () => {
    const doomed = await client.createKey("hsm-purged", "RSA-HSM");
    const kept = await client.createKey("hsm-kept", "RSA-HSM");
    expect(objectsWithModulus(doomed)).toBe(2);
    await (await client.beginDeleteKey("hsm-purged", poll)).pollUntilDone();
    expect(objectsWithModulus(doomed)).toBe(2);
    await client.purgeDeletedKey("hsm-purged");
    await expect(client.getDeletedKey("hsm-purged")).rejects.toMatchObject({ statusCode: 404 });
    expect(objectsWithModulus(doomed)).toBe(0);
    expect(objectsWithModulus(kept)).toBe(2);
  });

  it("purges a certificate whose key is RSA-HSM and destroys the key's objects in the token", async () => {
    const policy = { issuerName: "Self", subject: "CN=hsm-cert", keyType: "RSA-HSM" as const, keySize: 2048 };
    await (await certificates.beginCreateCertificate("hsm-cert", policy, poll)).pollUntilDone();
    const key = await client.getKey("hsm-cert");
    expect([key.keyType, key.properties.managed]).toEqual(["RSA-HSM", true]);
    expect(objectsWithModulus(key)).toBe(2);
    await (await certificates.beginDeleteCertificate("hsm-cert", poll)).pollUntilDone();
    await certificates.purgeDeletedCertificate("hsm-cert");
    expect(objectsWithModulus(key)).toBe(0);
  });

  it("rotates an HSM key into a new token key that expires as its rotation policy says", async () => {
    const original = await client.createKey("hsm-rotating", "RSA-HSM", { keySize: 3072 });
    const policy = await client.updateKeyRotationPolicy("hsm-rotating", {
      lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P60D" }],
      expiresIn: "P6M",
    });
    const fetched = await client.getKeyRotationPolicy("hsm-rotating");
    expect(fetched.expiresIn).toBe("P6M");
    expect(fetched.lifetimeActions).toEqual(policy.lifetimeActions);
    expect(fetched.lifetimeActions).toEqual(
      expect.arrayContaining([
        { action: "Rotate", timeAfterCreate: "P60D" },
        { action: "Notify", timeBeforeExpiry: "P30D" },
      ]),
    );
    const rotated = await client.rotateKey("hsm-rotating");
    expect(rotated.keyType).toBe("RSA-HSM");
    expect(rotated.properties.version).not.toBe(original.properties.version);
    expect(Buffer.from(rotated.key?.n ?? []).length * 8).toBe(3072);
    expect(b64(rotated.key?.n)).not.toBe(b64(original.key?.n));
    expect(rotated.properties.expiresOn?.getTime()).toBeGreaterThan(Date.now() + 170 * 86_400_000);
    expect(rotated.properties.expiresOn?.getTime()).toBeLessThan(Date.now() + 190 * 86_400_000);
    expect(objectsWithModulus(rotated)).toBe(2);
    const digest = createHash("sha256").update("rotated").digest();
    const { result } = await crypto(rotated).sign("RS256", digest);
    expect(nodeVerify("sha256", Buffer.from("rotated"), nodePublicKey(rotated), Buffer.from(result))).toBe(
      true,
    );
  });

  it("reports the token's maker and model as hsmPlatform on HSM keys, and none on software keys", async () => {
    const platform = withToken((_session, slot) => {
      const info = slot.getToken();
      return `${info.manufacturerID.trim()} ${info.model.trim()}`;
    });
    expect(platform).toBe("SoftHSM project SoftHSM v2");
    const key = await client.createKey("hsm-platform", "EC-HSM");
    expect(key.properties.hsmPlatform).toBe(platform);
    expect(key.properties.exportable).toBe(false);
    const listed = (await collect(client.listPropertiesOfKeys())).find((p) => p.name === "hsm-platform");
    expect(listed?.hsmPlatform).toBe(platform);
    const software = await standard.createEcKey("software-platform");
    expect(software.properties.hsmPlatform).toBeUndefined();
    expect(software.properties.exportable).toBe(false);
  });

  it("imports an EC key into the HSM with Hsm: true", async () => {
    const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    const imported = await client.importKey("hsm-imported", sdkJwk(jwk), { hardwareProtected: true });
    expect(imported.keyType).toBe("EC-HSM");
    const digest = createHash("sha256").update("imported").digest();
    const { result } = await crypto(imported).sign("ES256", digest);
    expect(
      nodeVerify(
        "sha256",
        Buffer.from("imported"),
        { key: createPublicKey({ key: jwk, format: "jwk" }), dsaEncoding: "ieee-p1363" },
        Buffer.from(result),
      ),
    ).toBe(true);
  });

  it("imports an RSA key into the HSM with Hsm: true", async () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = pair.privateKey.export({ format: "jwk" });
    const imported = await client.importKey("hsm-imported-rsa", sdkJwk(jwk), { hardwareProtected: true });
    expect(imported.keyType).toBe("RSA-HSM");
    expect(objectsWithModulus(imported)).toBe(2);
    const digest = createHash("sha256").update("imported rsa").digest();
    const { result } = await crypto(imported).sign("PS256", digest);
    const options = { key: pair.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    expect(nodeVerify("sha256", Buffer.from("imported rsa"), options, Buffer.from(result))).toBe(true);
  });

  it("imports a key brought in a BYOK transfer blob wrapped under a vault key-exchange key", async () => {
    const kek = await client.createKey("byok-kek", "RSA-HSM", { keySize: 3072, keyOps: ["import"] });
    expect(kek.keyOperations).toEqual(["import"]);
    const target = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const { blob, wrappedTransport, wrappedKey } = byokBlob(kek, target.privateKey);

    const imported = await client.importKey("byok-target", {
      kty: "RSA-HSM",
      keyOps: ["sign", "verify"],
      t: Buffer.from(JSON.stringify(blob)),
    } as JsonWebKey);
    expect(imported.keyType).toBe("RSA-HSM");
    expect(b64(imported.key?.n)).toBe(target.publicKey.export({ format: "jwk" }).n);
    const digest = createHash("sha256").update("brought my own").digest();
    const { result } = await crypto(imported).sign("RS256", digest);
    expect(nodeVerify("sha256", Buffer.from("brought my own"), target.publicKey, Buffer.from(result))).toBe(
      true,
    );

    const tampered = {
      ...blob,
      ciphertext: Buffer.concat([wrappedTransport, Buffer.alloc(wrappedKey.length)]).toString("base64url"),
    };
    await expect(
      client.importKey("byok-bad", {
        kty: "RSA-HSM",
        t: Buffer.from(JSON.stringify(tampered)),
      } as JsonWebKey),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it("imports EC keys on every curve brought in BYOK transfer blobs", async () => {
    const kek = await client.getKey("byok-kek");
    for (const [curve, nodeCurve, alg, hash] of [
      ["P-256", "prime256v1", "ES256", "sha256"],
      ["P-384", "secp384r1", "ES384", "sha384"],
      ["P-521", "secp521r1", "ES512", "sha512"],
      ["P-256K", "secp256k1", "ES256K", "sha256"],
    ] as const) {
      const target = generateKeyPairSync("ec", { namedCurve: nodeCurve });
      const { blob } = byokBlob(kek, target.privateKey);
      const imported = await client.importKey(`byok-${curve}`, {
        kty: "EC-HSM",
        keyOps: ["sign", "verify"],
        t: Buffer.from(JSON.stringify(blob)),
      } as JsonWebKey);
      expect(imported.keyType, curve).toBe("EC-HSM");
      expect(imported.key?.crv, curve).toBe(curve);
      const expected = target.publicKey.export({ format: "jwk" });
      expect([b64(imported.key?.x), b64(imported.key?.y)], curve).toEqual([expected.x, expected.y]);
      const digest = createHash(hash).update(curve).digest();
      const { result } = await crypto(imported).sign(alg, digest);
      const ok = nodeVerify(
        hash,
        Buffer.from(curve),
        { key: target.publicKey, dsaEncoding: "ieee-p1363" },
        Buffer.from(result),
      );
      expect(ok, curve).toBe(true);
    }
  });

  it("leaves BYOK EC keys in the token unable to derive, like generated ones", async () => {
    for (const curve of ["P-256", "P-384", "P-521", "P-256K"]) {
      const key = await client.getKey(`byok-${curve}`);
      const point = Buffer.concat([
        Buffer.of(4),
        Buffer.from(key.key?.x ?? []),
        Buffer.from(key.key?.y ?? []),
      ]);
      const length = point.length < 128 ? Buffer.of(point.length) : Buffer.of(0x81, point.length);
      const pointEC = Buffer.concat([Buffer.of(4), length, point]);
      const derive = withToken((session) => {
        const publicHalf = session.find({ class: graphene.ObjectClass.PUBLIC_KEY, pointEC });
        expect(publicHalf.length, curve).toBe(1);
        const id = publicHalf.items(0).getAttribute({ id: null }).id ?? null;
        const privateHalf = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, id });
        expect(privateHalf.length, curve).toBe(1);
        return privateHalf.items(0).getAttribute({ derive: null, sign: null });
      });
      expect(derive, curve).toEqual({ derive: false, sign: true });
    }
  });

  it("refuses to back up an HSM key, since it never leaves the token", async () => {
    await client.createKey("hsm-no-backup", "RSA-HSM");
    await expect(client.backupKey("hsm-no-backup")).rejects.toMatchObject({ statusCode: 400 });
  });

  it("refuses to delete the vault while its HSM keys would be orphaned in the token", async () => {
    const http = httpsClient(server.ca);
    const bearer = await adminToken(http, server.admin);
    const res = await http.send(`${server.admin.authorityHost}/admin/vaults/hsm`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${bearer}` },
    });
    http.close();
    expect(res.status).toBe(409);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(
      /HSM key\(s\); delete and purge them/,
    );
  });

  it("keeps every private key in the token sensitive and non-extractable", async () => {
    await server.stop();
    withToken((session) => {
      const privateKeys = session.find({ class: graphene.ObjectClass.PRIVATE_KEY });
      const secretKeys = session.find({ class: graphene.ObjectClass.SECRET_KEY });
      expect(privateKeys.length).toBeGreaterThan(5);
      expect(secretKeys.length).toBeGreaterThan(3);
      for (const collection of [privateKeys, secretKeys]) {
        for (let i = 0; i < collection.length; i++) {
          const key = collection.items(i);
          expect(key.getAttribute({ sensitive: null, extractable: null })).toEqual({
            sensitive: true,
            extractable: false,
          });
          const secretPart =
            collection === privateKeys
              ? key.getAttribute("keyType") === graphene.KeyType.RSA
                ? "privateExponent"
                : "value"
              : "value";
          expect(() => key.getAttribute(secretPart)).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
        }
      }
    });
  });
});
