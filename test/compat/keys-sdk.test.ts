import { execFileSync } from "node:child_process";
import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  verify as nodeVerify,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  CryptographyClient,
  KeyClient,
  type KeyVaultKey,
  type SignatureAlgorithm,
} from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePublicKey, sdkJwk } from "../support/keys.js";
import { collect, keyUserWithoutRead, requestLog, sdkOptions } from "../support/sdk.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const poll = { intervalInMs: 50 };

const HASH: Record<string, string> = { "256": "sha256", "384": "sha384", "512": "sha512" };

/** Decrypts as someone holding the private key would, without the server: node:crypto, or openssl for RSA1_5. */
function decryptLocally(privateKey: KeyObject, algorithm: string, ciphertext: Uint8Array): Buffer {
  if (algorithm === "RSA1_5") {
    // node:crypto refuses PKCS#1 v1.5 decryption since CVE-2023-46809; openssl still does it.
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const dir = tempDataDir();
    try {
      const keyFile = `${dir.dir}/key.pem`;
      writeFileSync(keyFile, pem, { mode: 0o600 });
      return execFileSync(
        "openssl",
        ["pkeyutl", "-decrypt", "-inkey", keyFile, "-pkeyopt", "rsa_padding_mode:pkcs1"],
        {
          input: Buffer.from(ciphertext),
        },
      );
    } finally {
      dir.remove();
    }
  }
  const oaepHash = algorithm === "RSA-OAEP-256" ? "sha256" : "sha1";
  return privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
    Buffer.from(ciphertext),
  );
}

/** Encrypts with the public key as a client without the SDK would. */
function encryptLocally(publicKey: KeyObject, algorithm: string, plaintext: Buffer): Buffer {
  if (algorithm === "RSA1_5")
    return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, plaintext);
  const oaepHash = algorithm === "RSA-OAEP-256" ? "sha256" : "sha1";
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, plaintext);
}

const RSA_ALGORITHMS = ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"] as const;

describe.each(serverBackends)(
  "the official @azure/keyvault-keys SDK: KeyClient and CryptographyClient on $name",
  (backend) => {
    if (!backend.enabled) return;
    let dropDatabase: (() => Promise<unknown>) | undefined;
    const data = tempDataDir();
    let server: ServerProcess;
    let client: KeyClient;
    let crypto: (key: KeyVaultKey) => CryptographyClient;
    let remoteOnly: (key: KeyVaultKey) => { crypto: CryptographyClient; seen: string[] };

    beforeAll(async () => {
      const database = await backendArgs(backend);
      dropDatabase = database.drop;
      server = await startServerProcess(data.dir, database.args);
      const { credential, clientOptions } = sdkOptions(server);
      client = new KeyClient(server.admin.vaultUrl, credential, clientOptions);
      crypto = (key) => new CryptographyClient(key.id ?? "", credential, clientOptions);
      const user = await keyUserWithoutRead(server, "default");
      remoteOnly = (key) => {
        const log = requestLog();
        const options = { ...clientOptions, additionalPolicies: [log.policy] };
        return { crypto: new CryptographyClient(key.id ?? "", user, options), seen: log.seen };
      };
    });

    afterAll(async () => {
      await server?.stop();
      await dropDatabase?.();
      data.remove();
    });

    it("creates RSA keys of every size with Key Vault's default operations", async () => {
      for (const keySize of [2048, 3072, 4096]) {
        const key = await client.createRsaKey(`rsa-${keySize}`, { keySize });
        expect(key.keyType).toBe("RSA");
        expect(key.keyOperations).toEqual(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]);
        expect(Buffer.from(key.key?.n ?? []).length * 8).toBe(keySize);
        expect(Buffer.from(key.key?.e ?? []).toString("hex")).toBe("010001");
        expect(key.key?.d).toBeUndefined();
      }
    });

    it("creates EC keys on every curve", async () => {
      for (const curve of ["P-256", "P-384", "P-521", "P-256K"] as const) {
        const key = await client.createEcKey(`ec-${curve}`, { curve });
        expect(key.keyType).toBe("EC");
        expect(key.key?.crv).toBe(curve);
        expect(key.keyOperations).toEqual(["sign", "verify"]);
        expect(key.key?.d).toBeUndefined();
      }
    });

    it("signs digests that node:crypto verifies, and verifies them itself", async () => {
      const cases: [string, SignatureAlgorithm, () => Promise<KeyVaultKey>][] = [
        ["rs", "RS256", () => client.createRsaKey("sign-rsa")],
        ["rs", "RS384", () => client.getKey("sign-rsa")],
        ["rs", "RS512", () => client.getKey("sign-rsa")],
        ["ps", "PS256", () => client.getKey("sign-rsa")],
        ["ps", "PS384", () => client.getKey("sign-rsa")],
        ["ps", "PS512", () => client.getKey("sign-rsa")],
        ["es", "ES256", () => client.createEcKey("sign-p256", { curve: "P-256" })],
        ["es", "ES384", () => client.createEcKey("sign-p384", { curve: "P-384" })],
        ["es", "ES512", () => client.createEcKey("sign-p521", { curve: "P-521" })],
        ["es", "ES256K", () => client.createEcKey("sign-p256k", { curve: "P-256K" })],
      ];
      for (const [family, alg, key] of cases) {
        const k = await key();
        const hash = HASH[alg.slice(2, 5)] as string;
        const message = Buffer.from(`message for ${alg}`);
        const digest = createHash(hash).update(message).digest();
        const { result } = await crypto(k).sign(alg, digest);
        const publicKey = nodePublicKey(k);
        const options =
          family === "es"
            ? { key: publicKey, dsaEncoding: "ieee-p1363" as const }
            : family === "ps"
              ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length }
              : publicKey;
        expect(nodeVerify(hash, message, options, Buffer.from(result)), alg).toBe(true);
        expect((await crypto(k).verify(alg, digest, result)).result, alg).toBe(true);
        const tampered = Buffer.from(result);
        tampered[5] = (tampered[5] ?? 0) ^ 0xff;
        expect((await crypto(k).verify(alg, digest, tampered)).result, alg).toBe(false);
      }
    });

    it("signs and verifies data through signData and verifyData", async () => {
      const key = await client.createEcKey("sign-data", { curve: "P-256" });
      const data = Buffer.from("sign me");
      const { result } = await crypto(key).signData("ES256", data);
      expect(
        nodeVerify(
          "sha256",
          data,
          { key: nodePublicKey(key), dsaEncoding: "ieee-p1363" },
          Buffer.from(result),
        ),
      ).toBe(true);
      expect((await crypto(key).verifyData("ES256", data, result)).result).toBe(true);
    });

    it("decrypts what node:crypto encrypted with the public key, and round-trips its own ciphertexts", async () => {
      const key = await client.createRsaKey("cipher-rsa");
      const publicKey = nodePublicKey(key);
      const plaintext = Buffer.from("attack at dawn");
      const local = {
        RSA1_5: publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, plaintext),
        "RSA-OAEP": publicEncrypt(
          { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
          plaintext,
        ),
        "RSA-OAEP-256": publicEncrypt(
          { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
          plaintext,
        ),
      } as const;
      for (const [algorithm, ciphertext] of Object.entries(local) as [keyof typeof local, Buffer][]) {
        const decrypted = await crypto(key).decrypt({ algorithm, ciphertext });
        expect(Buffer.from(decrypted.result).toString(), algorithm).toBe("attack at dawn");
        const encrypted = await crypto(key).encrypt({ algorithm, plaintext });
        const back = await crypto(key).decrypt({ algorithm, ciphertext: encrypted.result });
        expect(Buffer.from(back.result).toString(), algorithm).toBe("attack at dawn");
      }
    });

    it("wraps and unwraps a content key with RSA-OAEP", async () => {
      const key = await client.createRsaKey("wrapping");
      const cek = randomBytes(32);
      const wrapped = await crypto(key).wrapKey("RSA-OAEP-256", cek);
      const unwrapped = await crypto(key).unwrapKey("RSA-OAEP-256", wrapped.result);
      expect(Buffer.from(unwrapped.result).equals(cek)).toBe(true);
    });

    it("encrypts on the server for a principal that may not read the key, and decrypts both ways", async () => {
      const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const key = await client.importKey("remote-cipher", sdkJwk(pair.privateKey.export({ format: "jwk" })));
      const { crypto: remote, seen } = remoteOnly(key);
      const path = `/keys/remote-cipher/${key.properties.version}`;
      const plaintext = Buffer.from("only the server encrypts this");
      for (const algorithm of RSA_ALGORITHMS) {
        const encrypted = await remote.encrypt({ algorithm, plaintext });
        expect(decryptLocally(pair.privateKey, algorithm, encrypted.result), algorithm).toEqual(plaintext);
        const local = encryptLocally(pair.publicKey, algorithm, plaintext);
        const decrypted = await remote.decrypt({ algorithm, ciphertext: local });
        expect(Buffer.from(decrypted.result), algorithm).toEqual(plaintext);
      }
      expect(seen[0]).toBe(`GET ${path} 403`);
      expect(seen.filter((r) => r === `POST ${path}/encrypt 200`)).toHaveLength(RSA_ALGORITHMS.length);
    });

    it("wraps on the server for a principal that may not read the key, and unwraps both ways", async () => {
      const pair = generateKeyPairSync("rsa", { modulusLength: 3072 });
      const key = await client.importKey("remote-wrap", sdkJwk(pair.privateKey.export({ format: "jwk" })));
      const { crypto: remote, seen } = remoteOnly(key);
      const path = `/keys/remote-wrap/${key.properties.version}`;
      const cek = randomBytes(32);
      for (const algorithm of RSA_ALGORITHMS) {
        const wrapped = await remote.wrapKey(algorithm, cek);
        expect(decryptLocally(pair.privateKey, algorithm, wrapped.result), algorithm).toEqual(cek);
        const unwrapped = await remote.unwrapKey(algorithm, encryptLocally(pair.publicKey, algorithm, cek));
        expect(Buffer.from(unwrapped.result), algorithm).toEqual(cek);
      }
      expect(seen[0]).toBe(`GET ${path} 403`);
      expect(seen.filter((r) => r === `POST ${path}/wrapkey 200`)).toHaveLength(RSA_ALGORITHMS.length);
      expect(seen.filter((r) => r === `POST ${path}/unwrapkey 200`)).toHaveLength(RSA_ALGORITHMS.length);
    });

    it("imports RSA and EC keys made elsewhere and uses them", async () => {
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
      const imported = await client.importKey("imported-rsa", sdkJwk(rsa), { tags: { source: "node" } });
      expect(imported.keyType).toBe("RSA");
      expect(imported.properties.tags).toEqual({ source: "node" });
      expect(imported.key?.d).toBeUndefined();
      expect(Buffer.from(imported.key?.n ?? []).toString("base64url")).toBe(rsa.n);

      const ec = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "jwk" });
      const importedEc = await client.importKey("imported-ec", sdkJwk(ec));
      const digest = createHash("sha384").update("x").digest();
      const { result } = await crypto(importedEc).sign("ES384", digest);
      expect(
        nodeVerify(
          "sha384",
          Buffer.from("x"),
          { key: createPublicKey({ key: ec, format: "jwk" }), dsaEncoding: "ieee-p1363" },
          Buffer.from(result),
        ),
      ).toBe(true);
    });

    it("gets the latest and a given version, lists keys and versions, and updates properties", async () => {
      const first = await client.createEcKey("versioned");
      const second = await client.createEcKey("versioned");
      expect((await client.getKey("versioned")).properties.version).toBe(second.properties.version);
      expect((await client.getKey("versioned", { version: first.properties.version ?? "" })).key?.x).toEqual(
        first.key?.x,
      );
      const versions = await collect(client.listPropertiesOfKeyVersions("versioned"));
      expect(versions.map((v) => v.version)).toEqual([first.properties.version, second.properties.version]);
      const names = (await collect(client.listPropertiesOfKeys())).map((p) => p.name);
      expect(names).toContain("versioned");

      const expiresOn = new Date("2030-01-01T00:00:00Z");
      const updated = await client.updateKeyProperties("versioned", second.properties.version ?? "", {
        keyOps: ["verify"],
        tags: { team: "payments" },
        expiresOn,
      });
      expect(updated.keyOperations).toEqual(["verify"]);
      expect(updated.properties.tags).toEqual({ team: "payments" });
      expect(updated.properties.expiresOn).toEqual(expiresOn);
      const reread = await client.getKey("versioned", { version: second.properties.version ?? "" });
      expect(reread.properties.tags).toEqual({ team: "payments" });
      expect(reread.keyOperations).toEqual(["verify"]);
    });

    it("hands out CryptographyClients for the latest and for a given version through getCryptographyClient", async () => {
      const first = await client.createEcKey("by-name", { curve: "P-256" });
      const second = await client.createEcKey("by-name", { curve: "P-256" });
      const digest = createHash("sha256").update("addressed by name").digest();
      const verifies = (key: KeyVaultKey, signature: Uint8Array) =>
        nodeVerify(
          "sha256",
          Buffer.from("addressed by name"),
          { key: nodePublicKey(key), dsaEncoding: "ieee-p1363" },
          Buffer.from(signature),
        );
      const latest = await client.getCryptographyClient("by-name").sign("ES256", digest);
      expect(latest.keyID).toBe(second.id);
      expect(verifies(second, latest.result)).toBe(true);
      const pinned = await client
        .getCryptographyClient("by-name", { keyVersion: first.properties.version ?? "" })
        .sign("ES256", digest);
      expect(pinned.keyID).toBe(first.id);
      expect(verifies(first, pinned.result)).toBe(true);
      expect(verifies(second, pinned.result)).toBe(false);
    });

    it("refuses operations on a disabled key with 403", async () => {
      const key = await client.createRsaKey("disabled");
      await client.updateKeyProperties("disabled", key.properties.version ?? "", { enabled: false });
      await expect(crypto(key).sign("RS256", Buffer.alloc(32))).rejects.toMatchObject({ statusCode: 403 });
    });

    it("deletes, recovers and purges keys", async () => {
      await client.createRsaKey("doomed");
      const deleted = await (await client.beginDeleteKey("doomed", poll)).pollUntilDone();
      expect(deleted.properties.recoveryId).toBe(`${server.admin.vaultUrl}/deletedkeys/doomed`);
      expect((await client.getDeletedKey("doomed")).name).toBe("doomed");
      expect((await collect(client.listDeletedKeys())).map((d) => d.name)).toContain("doomed");
      await (await client.beginRecoverDeletedKey("doomed", poll)).pollUntilDone();
      expect((await client.getKey("doomed")).name).toBe("doomed");
      await (await client.beginDeleteKey("doomed", poll)).pollUntilDone();
      await client.purgeDeletedKey("doomed");
      await expect(client.getDeletedKey("doomed")).rejects.toMatchObject({
        statusCode: 404,
        code: "KeyNotFound",
      });
    });

    it("backs up and restores a key so that it still signs", async () => {
      const key = await client.createEcKey("backed-up", { curve: "P-256" });
      const backup = await client.backupKey("backed-up");
      await (await client.beginDeleteKey("backed-up", poll)).pollUntilDone();
      await client.purgeDeletedKey("backed-up");
      const restored = await client.restoreKeyBackup(backup as Uint8Array);
      expect(restored.key?.x).toEqual(key.key?.x);
      const digest = createHash("sha256").update("after restore").digest();
      const { result } = await crypto(restored).sign("ES256", digest);
      expect((await crypto(key).verify("ES256", digest, result)).result).toBe(true);
    });

    it("rotates a key and round-trips its rotation policy", async () => {
      const original = await client.createRsaKey("rotating", { keySize: 3072 });
      const policy = await client.updateKeyRotationPolicy("rotating", {
        lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P90D" }],
        expiresIn: "P1Y",
      });
      expect(policy.expiresIn).toBe("P1Y");
      expect(policy.lifetimeActions).toEqual(
        expect.arrayContaining([
          { action: "Rotate", timeAfterCreate: "P90D" },
          { action: "Notify", timeBeforeExpiry: "P30D" },
        ]),
      );
      const fetched = await client.getKeyRotationPolicy("rotating");
      expect(fetched.lifetimeActions).toEqual(policy.lifetimeActions);
      expect(fetched.expiresIn).toBe("P1Y");
      const rotated = await client.rotateKey("rotating");
      expect(rotated.properties.version).not.toBe(original.properties.version);
      expect(Buffer.from(rotated.key?.n ?? []).length * 8).toBe(3072);
      expect(rotated.properties.expiresOn?.getTime()).toBeGreaterThan(Date.now() + 360 * 86_400_000);
    });

    it("returns random bytes", async () => {
      const bytes = await client.getRandomBytes(32);
      expect(bytes).toHaveLength(32);
    });

    it("answers key release and attestation with a clear 501", async () => {
      await client.createRsaKey("no-release");
      await expect(client.releaseKey("no-release", "token")).rejects.toMatchObject({ statusCode: 501 });
      await expect(client.getKeyAttestation("no-release")).rejects.toMatchObject({ statusCode: 501 });
    });

    it("refuses HSM key types in a standard vault", async () => {
      await expect(client.createKey("hsm-in-standard", "RSA-HSM")).rejects.toMatchObject({
        statusCode: 400,
        code: "BadParameter",
      });
    });
  },
);
