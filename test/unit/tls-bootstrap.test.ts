import { randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { ensureBootstrapTls } from "../../src/crypto/tls-bootstrap.js";

const DAY_MS = 86_400_000;
/** The names a server on a dual-stack machine asks for, IPv6 loopback included. */
const NAMES = ["localhost", "127.0.0.1", "::1", "*.localhost"];

describe("bootstrap TLS certificate across restarts", () => {
  const sealer = createAesGcmSealer(masterKeyFrom(randomBytes(32)));
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-tls-"));
    dirs.push(dir);
    return dir;
  };
  const serial = (pem: string) => new X509Certificate(pem).serialNumber;
  const start = new Date("2026-12-01T00:00:00Z");

  it("keeps the certificate when the names are the same, IPv6 loopback included", async () => {
    const dir = dataDir();
    const first = await ensureBootstrapTls(dir, sealer, NAMES, start);
    const second = await ensureBootstrapTls(dir, sealer, NAMES, new Date(start.getTime() + DAY_MS));
    expect(serial(second.cert)).toBe(serial(first.cert));
    expect(second.key).toBe(first.key);
  });

  it("keeps it when a name is spelled differently but means the same", async () => {
    const dir = dataDir();
    const first = await ensureBootstrapTls(dir, sealer, NAMES, start);
    const again = await ensureBootstrapTls(dir, sealer, ["LOCALHOST", "0:0:0:0:0:0:0:1", "127.0.0.1"], start);
    expect(serial(again.cert)).toBe(serial(first.cert));
  });

  it("keeps it when a name is dropped: the certificate still covers the rest", async () => {
    const dir = dataDir();
    const first = await ensureBootstrapTls(dir, sealer, NAMES, start);
    const again = await ensureBootstrapTls(dir, sealer, ["localhost"], start);
    expect(serial(again.cert)).toBe(serial(first.cert));
  });

  it("re-issues it when a name is added, covering the new name", async () => {
    const dir = dataDir();
    const first = await ensureBootstrapTls(dir, sealer, NAMES, start);
    const again = await ensureBootstrapTls(dir, sealer, [...NAMES, "vault.example.test", "::2"], start);
    expect(serial(again.cert)).not.toBe(serial(first.cert));
    const sans = new X509Certificate(again.cert).subjectAltName ?? "";
    expect(sans).toContain("DNS:vault.example.test");
    expect(sans).toContain("IP Address:0:0:0:0:0:0:0:2");
    expect(readFileSync(join(dir, "tls", "server.pem"), "utf8")).toBe(again.cert);
  });

  it("re-issues it when less than 30 days of validity are left, and not a day before", async () => {
    const dir = dataDir();
    const first = await ensureBootstrapTls(dir, sealer, NAMES, start);
    const expires = new Date(new X509Certificate(first.cert).validTo).getTime();
    const early = await ensureBootstrapTls(dir, sealer, NAMES, new Date(expires - 31 * DAY_MS));
    expect(serial(early.cert)).toBe(serial(first.cert));
    const due = await ensureBootstrapTls(dir, sealer, NAMES, new Date(expires - 29 * DAY_MS));
    expect(serial(due.cert)).not.toBe(serial(first.cert));
  });
});
