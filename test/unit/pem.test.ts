import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromPem, isPem, pemBlocks, pemDer, toPem } from "../../src/crypto/pem.js";

const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const pkcs8 = key.export({ format: "der", type: "pkcs8" });

describe("the one PEM module", () => {
  it("writes RFC 7468 armour that node:crypto and openssl read back byte for byte", () => {
    const pem = toPem("PRIVATE KEY", pkcs8);
    expect(pem).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/,
    );
    const viaOpenssl = execFileSync("openssl", ["pkey", "-pubout"], { input: pem }).toString();
    expect(viaOpenssl).toBe(createPublicKey(key).export({ format: "pem", type: "spki" }));
    expect(createPrivateKey(pem).export({ format: "der", type: "pkcs8" })).toEqual(pkcs8);
  });

  it("reads blocks in order with their labels, across CRLF line ends and text between them", () => {
    const text = `junk\r\n${toPem("CERTIFICATE", Buffer.of(0x30, 1, 2)).replace(/\n/g, "\r\n")}between\n${toPem("PRIVATE KEY", pkcs8)}`;
    const blocks = pemBlocks(text);
    expect(blocks.map((b) => b.label)).toEqual(["CERTIFICATE", "PRIVATE KEY"]);
    expect(blocks[0]?.der).toEqual(Buffer.of(0x30, 1, 2));
    expect(Buffer.compare(blocks[1]?.der ?? Buffer.alloc(0), pkcs8)).toBe(0);
    expect(pemDer(text, "CERTIFICATE")).toEqual([Buffer.of(0x30, 1, 2)]);
  });

  it("keeps a block's headers in its text, so a Proc-Type encrypted key stays readable", () => {
    const encrypted = execFileSync("openssl", ["ec", "-aes256", "-passout", "pass:pw"], {
      input: key.export({ format: "pem", type: "sec1" }),
      stdio: ["pipe", "pipe", "ignore"],
    }).toString();
    const [block] = pemBlocks(encrypted);
    expect(block?.label).toBe("EC PRIVATE KEY");
    expect(block?.text).toContain("Proc-Type: 4,ENCRYPTED");
  });

  it("takes bare base64 of one DER object, and nothing from text that is neither", () => {
    expect(fromPem(` ${pkcs8.toString("base64")}\n`)).toEqual([pkcs8]);
    expect(fromPem("not pem, not base64!")).toEqual([]);
    expect(isPem("\n-----BEGIN CERTIFICATE-----")).toBe(true);
    expect(isPem(pkcs8.toString("base64"))).toBe(false);
  });

  it("reads a certificate openssl wrote and writes it as node:crypto does", () => {
    const dir = mkdtempSync(join(tmpdir(), "pem-"));
    writeFileSync(join(dir, "key.pem"), key.export({ format: "pem", type: "pkcs8" }));
    const cert = execFileSync("openssl", [
      "req",
      "-x509",
      "-key",
      join(dir, "key.pem"),
      "-subj",
      "/CN=pem",
      "-days",
      "1",
    ]).toString();
    rmSync(dir, { recursive: true });
    const [der] = pemDer(cert, "CERTIFICATE");
    expect(new X509Certificate(der ?? Buffer.alloc(0)).subject).toBe("CN=pem");
    expect(toPem("CERTIFICATE", der ?? Buffer.alloc(0))).toBe(new X509Certificate(cert).toString());
  });
});
