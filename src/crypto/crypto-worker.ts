import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { parentPort } from "node:worker_threads";
import type { KeyCreateSpec } from "../domain/keys/model.js";
import { assemblePfx } from "./certificate-bundle-codec.js";
import { ed25519Parts, OPENSSL_CURVE, publicParts } from "./jwk.js";

/**
 * A thread of the crypto pool (crypto-pool.ts): CPU-bound work on keys and certificates that needs
 * nothing of the process but its inputs. It holds no sealing key: a key it makes leaves as PKCS#8,
 * which the calling thread seals and wipes.
 */
const generate = promisify(generateKeyPair);

/** `bytes` in an ArrayBuffer of their own, for a transfer that leaves no copy behind here. */
function transferable(bytes: Buffer): Uint8Array {
  const own = new Uint8Array(bytes.length);
  own.set(bytes);
  bytes.fill(0);
  return own;
}

async function newKey(spec: KeyCreateSpec) {
  let privateKey: KeyObject;
  if (spec.kind === "OKP") ({ privateKey } = await generate("ed25519"));
  else if (spec.kind === "RSA")
    ({ privateKey } = await generate("rsa", {
      modulusLength: spec.keySize ?? 2048,
      publicExponent: spec.publicExponent ?? 65537,
    }));
  else ({ privateKey } = await generate("ec", { namedCurve: OPENSSL_CURVE[spec.curve ?? "P-256"] }));
  const publicKey = spec.kind === "OKP" ? ed25519Parts(privateKey) : publicParts(privateKey);
  return { pkcs8: transferable(privateKey.export({ format: "der", type: "pkcs8" })), publicKey };
}

export type CryptoTask =
  | { task: "key"; spec: KeyCreateSpec }
  | { task: "pfx"; pkcs8: Uint8Array | undefined; certificates: Uint8Array[]; salt: Uint8Array };

const port = parentPort;
if (!port) throw new Error("crypto-worker.ts runs only as a worker thread");

port.on("message", async ({ id, work }: { id: number; work: CryptoTask }) => {
  try {
    if (work.task === "key") {
      const made = await newKey(work.spec);
      port.postMessage({ id, result: made }, [made.pkcs8.buffer as ArrayBuffer]);
      return;
    }
    const pkcs8 = work.pkcs8 && Buffer.from(work.pkcs8.buffer, work.pkcs8.byteOffset, work.pkcs8.byteLength);
    const pfx = transferable(
      assemblePfx(
        pkcs8,
        work.certificates.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)),
        Buffer.from(work.salt),
      ),
    );
    pkcs8?.fill(0);
    port.postMessage({ id, result: pfx }, [pfx.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message ?? String(error) });
  }
});
