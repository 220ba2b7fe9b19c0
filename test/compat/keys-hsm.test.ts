import { constants, createHash, createPublicKey, verify as nodeVerify, randomBytes } from "node:crypto";
import { CryptographyClient, type JsonWebKey, KeyClient, type KeyVaultKey } from "@azure/keyvault-keys";
import * as graphene from "graphene-pk11";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { sdkOptions } from "../support/sdk.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, type SoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

const b64 = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("base64url");

function nodePublicKey(key: KeyVaultKey) {
  const jwk = key.key as JsonWebKey;
  if (jwk.kty?.startsWith("RSA"))
    return createPublicKey({ key: { kty: "RSA", n: b64(jwk.n), e: b64(jwk.e) }, format: "jwk" });
  const crv = jwk.crv === "P-256K" ? "secp256k1" : (jwk.crv ?? "");
  return createPublicKey({ key: { kty: "EC", crv, x: b64(jwk.x), y: b64(jwk.y) }, format: "jwk" });
}

// The same operations as the software suite, on a premium vault whose -HSM keys live in SoftHSM2.
describe.skipIf(!softHsmAvailable)("HSM-protected keys in a premium vault backed by SoftHSM2", () => {
  const data = tempDataDir();
  let token: SoftHsmToken;
  let server: ServerProcess;
  let client: KeyClient;
  let crypto: (key: KeyVaultKey) => CryptographyClient;

  beforeAll(async () => {
    token = createSoftHsmToken(data.dir);
    server = await startServerProcess(
      `${data.dir}/server`,
      ["--host", "127.0.0.1,127.0.0.2", "--alias", "127.0.0.2=hsm"],
      {
        ...token.env,
        STRONGROOM_PKCS11_MODULE: token.module,
        STRONGROOM_PKCS11_TOKEN_LABEL: token.label,
        STRONGROOM_PKCS11_PIN: token.pin,
      },
    );
    const http = httpsClient(server.ca);
    const bearer = await adminToken(http, server.admin);
    const created = await http.send(`${server.admin.authorityHost}/admin/vaults`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "hsm", sku: "premium" }),
    });
    expect(created.status).toBe(201);
    http.close();
    const { credential, clientOptions } = sdkOptions(server);
    client = new KeyClient(`https://127.0.0.2:${server.port}`, credential, clientOptions);
    crypto = (key) => new CryptographyClient(key.id ?? "", credential, clientOptions);
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

  it("wraps and unwraps keys with AES key wrap", async () => {
    const key = await client.createOctKey("kek", { hsm: true, keySize: 256 });
    const cek = randomBytes(32);
    const wrapped = await crypto(key).wrapKey("A256KW", cek);
    expect(wrapped.result).toHaveLength(40);
    const unwrapped = await crypto(key).unwrapKey("A256KW", wrapped.result);
    expect(Buffer.from(unwrapped.result).equals(cek)).toBe(true);
  });

  it("imports a key into the HSM with Hsm: true", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    const sdkJwk = {
      kty: "EC",
      crv: "P-256",
      d: Buffer.from(String(jwk.d), "base64url"),
      x: Buffer.from(String(jwk.x), "base64url"),
      y: Buffer.from(String(jwk.y), "base64url"),
    } as JsonWebKey;
    const imported = await client.importKey("hsm-imported", sdkJwk, { hardwareProtected: true });
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

  it("imports a key brought in a BYOK transfer blob wrapped under a vault key-exchange key", async () => {
    const { createCipheriv, generateKeyPairSync, publicEncrypt: encrypt } = await import("node:crypto");
    const kek = await client.createKey("byok-kek", "RSA-HSM", { keySize: 3072, keyOps: ["import"] });
    expect(kek.keyOperations).toEqual(["import"]);

    // What an HSM vendor's BYOK tool does with the KEK's public key (CKM_RSA_AES_KEY_WRAP).
    const target = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const transportKey = randomBytes(32);
    const wrappedTransport = encrypt(
      { key: nodePublicKey(kek), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      transportKey,
    );
    const kwp = createCipheriv("id-aes256-wrap-pad", transportKey, Buffer.from("a65959a6", "hex"));
    const pkcs8 = target.privateKey.export({ format: "der", type: "pkcs8" });
    const wrappedKey = Buffer.concat([kwp.update(pkcs8), kwp.final()]);
    const blob = {
      schema_version: "1.0.0",
      header: { kid: kek.id, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" },
      ciphertext: Buffer.concat([wrappedTransport, wrappedKey]).toString("base64url"),
      generator: "strongroom test",
    };

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
    process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
    const mod = graphene.Module.load(token.module);
    mod.initialize();
    try {
      const slot = mod.getSlots(0, true);
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION);
      session.login(token.pin);
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
      session.logout();
      session.close();
    } finally {
      mod.finalize();
    }
  });
});
