import { createHash, timingSafeEqual } from "node:crypto";

/** The magic numbers that open Sun's JKS and JCEKS keystore files. */
const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;
const PRIVATE_KEY_ENTRY = 1;
const TRUSTED_CERTIFICATE_ENTRY = 2;
const SECRET_KEY_ENTRY = 3;
const DIGEST_BYTES = 20;

export interface JavaKeyStoreEntry {
  alias: string;
  kind: "privateKey" | "trustedCertificate";
  createdAt: Date;
  /** DER certificates: for a private key entry its chain, leaf first; for a trusted entry the one certificate. */
  certificates: Buffer[];
}

export interface JavaKeyStore {
  type: "JKS" | "JCEKS";
  entries: JavaKeyStoreEntry[];
  /**
   * `verified` when one of the passwords given reproduces the file's keyed SHA-1 digest; `unverified`
   * when none did (the certificates are readable without the password, so they are still reported);
   * `partial` when a JCEKS secret-key entry (a serialized Java object) stopped the walk before the end.
   */
  integrity: "verified" | "unverified" | "partial";
}

export const isJavaKeyStore = (bytes: Uint8Array): boolean =>
  bytes.length >= 4 && [JKS_MAGIC, JCEKS_MAGIC].includes(Buffer.from(bytes).readUInt32BE(0));

class Reader {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}
  private need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new Error("the keystore is truncated");
  }
  u16(): number {
    this.need(2);
    const value = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u32(): number {
    this.need(4);
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  u64(): number {
    this.need(8);
    const value = Number(this.bytes.readBigUInt64BE(this.offset));
    this.offset += 8;
    return value;
  }
  take(n: number): Buffer {
    this.need(n);
    const value = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return value;
  }
  /** java.io.DataOutput#writeUTF: a 16-bit length and modified UTF-8, which equals UTF-8 for aliases without NUL or astral characters. */
  utf(): string {
    return this.take(this.u16()).toString("utf8");
  }
}

/** The keyed digest Sun's keystores end with: SHA-1 over the password (UTF-16BE), a fixed phrase and the body. */
function keystoreDigest(password: string, body: Buffer): Buffer {
  return createHash("sha1")
    .update(Buffer.from(password, "utf16le").swap16())
    .update("Mighty Aphrodite", "utf8")
    .update(body)
    .digest();
}

/**
 * Reads a JKS or JCEKS keystore as `sun.security.provider.JavaKeyStore` writes it. Certificates are
 * stored in the clear, so they are read without the store password; private keys stay as they are
 * (encrypted under the key password) and are never decrypted here.
 */
export function parseJavaKeyStore(bytes: Uint8Array, passwords: readonly string[] = []): JavaKeyStore {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new Reader(buffer);
  const magic = reader.u32();
  if (magic !== JKS_MAGIC && magic !== JCEKS_MAGIC) throw new Error("not a JKS or JCEKS keystore");
  const type = magic === JKS_MAGIC ? "JKS" : "JCEKS";
  const version = reader.u32();
  if (version !== 1 && version !== 2) throw new Error(`keystore version ${version} is not 1 or 2`);
  const count = reader.u32();
  const certificate = () => {
    // Version 1 files predate certificate types and hold X.509 only.
    if (version === 2) {
      const certType = reader.utf();
      if (certType !== "X.509") throw new Error(`certificate type ${certType} is not X.509`);
    }
    return Buffer.from(reader.take(reader.u32()));
  };
  const entries: JavaKeyStoreEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = reader.u32();
    if (tag === SECRET_KEY_ENTRY && type === "JCEKS") return { type, entries, integrity: "partial" };
    const alias = reader.utf();
    const createdAt = new Date(reader.u64());
    if (tag === PRIVATE_KEY_ENTRY) {
      reader.take(reader.u32());
      const chainLength = reader.u32();
      const certificates: Buffer[] = [];
      for (let c = 0; c < chainLength; c++) certificates.push(certificate());
      entries.push({ alias, kind: "privateKey", createdAt, certificates });
    } else if (tag === TRUSTED_CERTIFICATE_ENTRY) {
      entries.push({ alias, kind: "trustedCertificate", createdAt, certificates: [certificate()] });
    } else {
      throw new Error(`keystore entry ${i} has unknown tag ${tag}`);
    }
  }
  const body = buffer.subarray(0, reader.offset);
  const stored = reader.take(DIGEST_BYTES);
  const verified = passwords.some((p) => timingSafeEqual(keystoreDigest(p, body), stored));
  return { type, entries, integrity: verified ? "verified" : "unverified" };
}
