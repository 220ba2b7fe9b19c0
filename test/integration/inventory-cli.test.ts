import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { opensslCsr } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom inventory", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  const cli = (...args: string[]) => runCli([...args, "--data-dir", file("data"), "--log-level", "silent"]);
  const fingerprint = (pemFile: string) =>
    createHash("sha256")
      .update(new X509Certificate(readFileSync(file(pemFile))).raw)
      .digest("hex");
  afterAll(() => data.remove());

  beforeAll(() => {
    expect(cli("ca", "create-root", "inv-root", "--subject", "CN=Inventory CLI Root").code).toBe(0);
    opensslCsr(file("a.key"), file("a.csr"), "/CN=a.cli.test", "DNS:a.cli.test");
    opensslCsr(file("b.key"), file("b.csr"), "/CN=b.cli.test", "DNS:b.cli.test");
    for (const [name, days] of [
      ["a", "20"],
      ["b", "200"],
    ] as const) {
      const signed = cli(
        "ca",
        "sign",
        "inv-root",
        "--csr",
        file(`${name}.csr`),
        "--validity-days",
        days,
        "-o",
        file(`${name}.pem`),
      );
      expect(signed.code, signed.stderr).toBe(0);
    }
    const job = cli("jobs", "run", "inventory");
    expect(job.code, job.stderr).toBe(0);
    expect(job.stdout).toMatch(/inventory: backfilled 2 certificates/);
  });

  it("lists as JSON with the fields the issue names, soonest expiry first", () => {
    const listed = cli("inventory", "list", "--json");
    expect(listed.code, listed.stderr).toBe(0);
    const { value } = JSON.parse(listed.stdout);
    expect(value.map((i: { subject: string }) => i.subject)).toEqual([
      "CN=a.cli.test",
      "CN=b.cli.test",
      "CN=Inventory CLI Root",
    ]);
    expect(value[0]).toMatchObject({
      fingerprintSha256: fingerprint("a.pem"),
      issuer: "CN=Inventory CLI Root",
      keyType: "EC",
      curve: "P-256",
      sans: [{ type: "dns", value: "a.cli.test" }],
      selfSigned: false,
      locations: [{ source: "ca" }],
    });
    expect(value[0].locations[0].uri).toMatch(/^ca:\/\/inv-root\/01[0-9a-f]{32}$/);
  });

  it("filters by every kind of filter it names", () => {
    const subjects = (...flags: string[]) => {
      const run = cli("inventory", "list", "--json", ...flags);
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout).value.map((i: { subject: string }) => i.subject);
    };
    expect(subjects("--expiring-within", "30d")).toEqual(["CN=a.cli.test"]);
    expect(subjects("--expired")).toEqual([]);
    expect(subjects("--issuer", "inventory cli root", "--subject", "b")).toEqual(["CN=b.cli.test"]);
    expect(subjects("--san", "cli.test")).toEqual(["CN=a.cli.test", "CN=b.cli.test"]);
    expect(
      subjects(
        "--key-type",
        "EC",
        "--min-key-size",
        "256",
        "--signature-algorithm",
        "ecdsa-with-SHA256",
        "--sort",
        "-notAfter",
      ),
    ).toEqual(["CN=Inventory CLI Root", "CN=b.cli.test", "CN=a.cli.test"]);
    expect(subjects("--source", "ca", "--location", "ca://inv-root/")).toEqual([
      "CN=a.cli.test",
      "CN=b.cli.test",
    ]);
    expect(subjects("--source", "tls")).toEqual([]);
  });

  it("pages with a cursor and exports every page as CSV", () => {
    const first = cli("inventory", "list", "--limit", "1", "--sort", "subject");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("CN=a.cli.test");
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1] ?? "";
    const second = cli("inventory", "list", "--limit", "1", "--sort", "subject", "--cursor", cursor);
    expect(second.stdout).toContain("CN=b.cli.test");
    const csv = cli("inventory", "list", "--all", "--limit", "1", "--csv");
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trimEnd().split("\r\n");
    expect(lines[0]).toMatch(/^fingerprintSha256,subject,issuer,serialNumber,notBefore,notAfter,/);
    expect(lines.slice(1).map((l) => l.split(",")[0])).toContain(fingerprint("b.pem"));
    expect(lines).toHaveLength(4);
  });

  it("prints facet counts", () => {
    const run = cli("inventory", "list", "--facets", "--json");
    const { facets } = JSON.parse(run.stdout);
    expect(facets.total).toBe(3);
    expect(facets.source).toEqual([{ value: "ca", count: 2 }]);
    expect(facets.expiry.within30Days).toBe(1);
  });

  it("shows one record and sets its owner, which the owner filter then finds", () => {
    const fp = fingerprint("b.pem");
    const shown = cli("inventory", "show", fp);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/subject:\s+CN=b\.cli\.test/);
    expect(shown.stdout).toMatch(/location:\s+ca:\/\/inv-root\//);
    expect(cli("inventory", "owner", fp, "--team", "edge", "--contact", "edge@example.com").code).toBe(0);
    const owned = JSON.parse(cli("inventory", "list", "--json", "--owner", "edge").stdout).value;
    expect(owned.map((i: { fingerprintSha256: string }) => i.fingerprintSha256)).toEqual([fp]);
    expect(owned[0].owner).toEqual({ team: "edge", contact: "edge@example.com", origin: "record" });
  });

  it("refuses bad input with a message and a failing exit code", () => {
    for (const args of [
      ["list", "--expiring-within", "soon"],
      ["list", "--min-key-size", "big"],
      ["list", "--source", "ftp"],
      ["show", "nope"],
      ["show", "ab".repeat(32)],
    ]) {
      const run = cli("inventory", ...args);
      expect(run.code, args.join(" ")).not.toBe(0);
      expect(run.stderr.trim().length, args.join(" ")).toBeGreaterThan(0);
    }
  });
});
