import { generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { type JsonWebKey, KeyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditFile, openDatabase } from "../../src/storage/database.js";
import { dumpAllRows } from "../support/backends.js";
import { runCli } from "../support/cli.js";
import { adminPost } from "../support/https-client.js";
import { byokBlob, sdkJwk } from "../support/keys.js";
import { sdkOptions } from "../support/sdk.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, pkcs11Env, softHsmAvailable } from "../support/softhsm.js";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"] as const;

/** A key made here, and every byte string that would give its private half away. */
function secretKey(type: "rsa" | "ec", name: string) {
  const { privateKey } =
    type === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  const secrets: [string, Buffer][] = PRIVATE_MEMBERS.flatMap((m) =>
    jwk[m] === undefined
      ? []
      : [[`${name}.${m}`, Buffer.from(jwk[m] as string, "base64url")] as [string, Buffer]],
  );
  secrets.push([`${name} PKCS#8`, privateKey.export({ format: "der", type: "pkcs8" })]);
  return { privateKey, jwk, secrets };
}

/** The bytes, and the text encodings a log line, a JSON column or a bytea dump would show them in. */
function encodingsOf(bytes: Buffer): Buffer[] {
  return [
    bytes,
    Buffer.from(bytes.toString("base64url")),
    Buffer.from(bytes.toString("base64")),
    Buffer.from(bytes.toString("hex")),
    Buffer.from(bytes.toString("hex").toUpperCase()),
  ];
}

/** The names of the secrets whose bytes, in any encoding, occur in `haystack`. */
function leaked(haystack: Buffer, secrets: (readonly [string, Buffer])[]): string[] {
  return secrets.flatMap(([name, bytes]) =>
    encodingsOf(bytes).some((needle) => haystack.includes(needle)) ? [name] : [],
  );
}

const readIfExists = (file: string): Buffer => (existsSync(file) ? readFileSync(file) : Buffer.alloc(0));

for (const backend of serverBackends) {
  describe.skipIf(!backend.enabled || !softHsmAvailable)(
    `private key material through the keys API on ${backend.name}`,
    () => {
      const data = tempDataDir();
      const serverDir = `${data.dir}/server`;
      let server: ServerProcess;
      let databaseArgs: string[] = [];
      let dropDatabase: (() => Promise<unknown>) | undefined;
      const secrets: (readonly [string, Buffer])[] = [];
      const backups: Buffer[] = [];
      // Public members are stored and logged in clear: finding one proves each search sees the data.
      let visibleModulus: Buffer;

      beforeAll(async () => {
        const token = createSoftHsmToken(data.dir);
        const database = await backendArgs(backend);
        databaseArgs = database.args;
        dropDatabase = database.drop;
        server = await startServerProcess(
          serverDir,
          [
            ...databaseArgs,
            "--log-level",
            "trace",
            "--host",
            "127.0.0.1,127.0.0.2",
            "--alias",
            "127.0.0.2=hsm",
          ],
          pkcs11Env(token),
        );
        await adminPost(server, "/admin/vaults", { name: "hsm", sku: "premium" });
        const { credential, clientOptions } = sdkOptions(server);
        const vault = new KeyClient(server.admin.vaultUrl, credential, clientOptions);
        const hsm = new KeyClient(`https://127.0.0.2:${server.port}`, credential, clientOptions);
        const poll = { intervalInMs: 50 };

        // Software keys: imported, backed up, purged and restored from the backup.
        for (const [type, name] of [
          ["rsa", "sealed-rsa"],
          ["ec", "sealed-ec"],
        ] as const) {
          const key = secretKey(type, name);
          secrets.push(...key.secrets);
          const imported = await vault.importKey(name, sdkJwk(key.jwk));
          if (type === "rsa") visibleModulus = Buffer.from(imported.key?.n ?? []);
          const backup = Buffer.from((await vault.backupKey(name)) ?? []);
          backups.push(backup);
          await (await vault.beginDeleteKey(name, poll)).pollUntilDone();
          await vault.purgeDeletedKey(name);
          await vault.restoreKeyBackup(backup);
        }

        // A refused import is where an error message could carry the members it was given.
        const halves = [secretKey("rsa", "refused-a"), secretKey("rsa", "refused-b")];
        for (const half of halves) secrets.push(...half.secrets);
        await expect(
          vault.importKey("refused", sdkJwk({ ...halves[0]?.jwk, n: halves[1]?.jwk.n })),
        ).rejects.toMatchObject({ statusCode: 400 });

        // Into the HSM: a JWK with Hsm: true passes through the server; BYOK keys never do in clear.
        const hsmImport = secretKey("rsa", "hsm-import");
        secrets.push(...hsmImport.secrets);
        await hsm.importKey("hsm-import", sdkJwk(hsmImport.jwk), { hardwareProtected: true });
        const kek = await hsm.createKey("kek", "RSA-HSM", { keyOps: ["import"] });
        for (const [type, name] of [
          ["rsa", "byok-rsa"],
          ["ec", "byok-ec"],
        ] as const) {
          const target = secretKey(type, name);
          const { blob, transportKey } = byokBlob(kek, target.privateKey);
          secrets.push(...target.secrets, [`${name} transport key`, transportKey]);
          const t = Buffer.from(JSON.stringify(blob));
          await hsm.importKey(name, { kty: `${type === "rsa" ? "RSA" : "EC"}-HSM`, t } as JsonWebKey);
        }
      });

      afterAll(async () => {
        await server?.stop();
        await dropDatabase?.();
        data.remove();
      });

      it("writes no private member or PKCS#8 to the server's trace-level log", () => {
        const log = Buffer.from(server.output());
        for (const name of ["sealed-rsa", "refused", "hsm-import", "byok-ec"])
          expect(log.toString()).toContain(`"method":"PUT","url":"/keys/${name}?`);
        expect(leaked(log, secrets)).toEqual([]);
      });

      it("records no private member or PKCS#8 in the audit log", () => {
        const exported = runCli(["audit", "export", "--data-dir", serverDir, ...databaseArgs]);
        expect(exported.code).toBe(0);
        expect(exported.stdout).toMatch(/"operation":"KeyImport".*sealed-rsa/);
        expect(exported.stdout).toMatch(/"operation":"KeyRestore"/);
        expect(leaked(Buffer.from(exported.stdout), secrets)).toEqual([]);
      });

      it("stores no private member or PKCS#8 in any row", async () => {
        const storage = openDatabase(databaseArgs[1] ?? `${serverDir}/strongroom.db`);
        try {
          const dump = Buffer.from(await dumpAllRows(storage));
          expect(leaked(dump, [["modulus", visibleModulus]])).toEqual(["modulus"]);
          expect(leaked(dump, secrets)).toEqual([]);
        } finally {
          await storage.close();
        }
      });

      it("returns backup blobs that hold no private member or PKCS#8 in clear", () => {
        expect(backups).toHaveLength(2);
        expect(leaked(Buffer.concat(backups), secrets)).toEqual([]);
      });

      it.runIf(backend.name === "SQLite")(
        "leaves no private member or PKCS#8 in any byte of the SQLite files, their WALs or shared memory",
        async () => {
          const file = `${serverDir}/strongroom.db`;
          const everyByte = () =>
            Buffer.concat(
              [file, auditFile(file)].flatMap((f) => [
                readFileSync(f),
                readIfExists(`${f}-wal`),
                readIfExists(`${f}-shm`),
              ]),
            );
          const running = everyByte();
          expect(leaked(running, [["modulus", visibleModulus]])).toEqual(["modulus"]);
          expect(running.includes("KeyRestore")).toBe(true);
          expect(leaked(running, secrets)).toEqual([]);
          expect(await server.stop()).toBe(0);
          const closed = everyByte();
          expect(leaked(closed, [["modulus", visibleModulus]])).toEqual(["modulus"]);
          expect(leaked(closed, secrets)).toEqual([]);
        },
      );
    },
  );
}
