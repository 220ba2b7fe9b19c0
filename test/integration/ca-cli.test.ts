import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { opensslCsr } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom ca", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  const ca = (...args: string[]) =>
    runCli(["ca", ...args, "--data-dir", file("data"), "--log-level", "silent"]);
  afterAll(() => data.remove());

  it("creates a hierarchy, signs a CSR, revokes by serial and writes a CRL that lists it", () => {
    const root = ca(
      "create-root",
      "cli-root",
      "--subject",
      "CN=CLI Root",
      "--key",
      "EC-P384",
      "--path-length",
      "1",
    );
    expect(root.code, root.stderr).toBe(0);
    expect(root.stdout).toContain("status:         active");
    const issuing = ca(
      "create-intermediate",
      "cli-issuing",
      "--parent",
      "cli-root",
      "--subject",
      "CN=CLI Issuing",
      "--key",
      "RSA-3072",
      "--validity-days",
      "400",
      "--permit-dns",
      "cli.test",
    );
    expect(issuing.code, issuing.stderr).toBe(0);
    expect(ca("list").stdout).toMatch(/cli-issuing\tintermediate\tactive\tRSA-3072\tsoftware/);

    opensslCsr(file("a.key"), file("a.csr"), "/CN=a.cli.test");
    const signed = ca("sign", "cli-issuing", "--csr", file("a.csr"), "-o", file("a.pem"));
    expect(signed.code, signed.stderr).toBe(0);
    const serial = /Issued serial ([0-9a-f]+)/.exec(signed.stderr)?.[1] ?? "";
    expect(serial).toMatch(/^01[0-9a-f]{32}$/);
    writeFileSync(file("root.pem"), ca("show", "cli-root", "--pem").stdout);
    writeFileSync(file("chain.pem"), ca("show", "cli-issuing", "--pem").stdout);
    const verify = spawnSync(
      "openssl",
      ["verify", "-CAfile", file("root.pem"), "-untrusted", file("chain.pem"), file("a.pem")],
      { encoding: "utf8" },
    );
    expect(`${verify.stdout}${verify.stderr}`).toContain("a.pem: OK");

    opensslCsr(file("b.key"), file("b.csr"), "/CN=b.elsewhere.test");
    const refused = ca("sign", "cli-issuing", "--csr", file("b.csr"));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("outside CA cli-issuing's permitted names");

    const revoked = ca("revoke", "--serial", serial, "--reason", "affiliationChanged");
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`${serial}\trevoked (affiliationChanged)`);
    expect(ca("revoke", "--serial", serial).stderr).toContain("revoked already");
    expect(ca("revoke", "--serial", serial, "--reason", "bogus").stderr).toContain("reason must be one of");
    expect(ca("issued", "cli-issuing").stdout).toContain(`${serial}\trevoked`);

    const crl = ca("crl", "cli-issuing", "--pem", "-o", file("issuing.crl.pem"));
    expect(crl.code, crl.stderr).toBe(0);
    const text = spawnSync("openssl", ["crl", "-in", file("issuing.crl.pem"), "-noout", "-text"], {
      encoding: "utf8",
    }).stdout;
    expect(text.toUpperCase()).toContain(serial.toUpperCase());
    expect(text).toContain("Affiliation Changed");
  });

  it("creates Ed25519 CAs with --key Ed25519, whose certificates and CRLs openssl verifies", () => {
    const root = ca("create-root", "ed-root", "--subject", "CN=CLI Ed25519 Root", "--key", "Ed25519");
    expect(root.code, root.stderr).toBe(0);
    expect(root.stdout).toContain("key:            Ed25519 (software)");
    const issuing = ca(
      "create-intermediate",
      "ed-issuing",
      "--parent",
      "ed-root",
      "--subject",
      "CN=CLI Ed25519 Issuing",
      "--key",
      "Ed25519",
      "--validity-days",
      "400",
    );
    expect(issuing.code, issuing.stderr).toBe(0);
    expect(ca("list").stdout).toMatch(/ed-issuing\tintermediate\tactive\tEd25519\tsoftware/);

    opensslCsr(file("ed.key"), file("ed.csr"), "/CN=ed.cli.test");
    const signed = ca("sign", "ed-issuing", "--csr", file("ed.csr"), "-o", file("ed.pem"));
    expect(signed.code, signed.stderr).toBe(0);
    writeFileSync(file("ed-root.pem"), ca("show", "ed-root", "--pem").stdout);
    writeFileSync(file("ed-issuing.pem"), ca("show", "ed-issuing", "--pem").stdout);
    const openssl = (...args: string[]) => {
      const run = spawnSync("openssl", args, { encoding: "utf8" });
      return `${run.stdout}${run.stderr}`;
    };
    expect(
      openssl("verify", "-CAfile", file("ed-root.pem"), "-untrusted", file("ed-issuing.pem"), file("ed.pem")),
    ).toContain("ed.pem: OK");
    expect(openssl("x509", "-in", file("ed.pem"), "-noout", "-text")).toContain(
      "Signature Algorithm: ED25519",
    );

    expect(ca("crl", "ed-issuing", "--pem", "-o", file("ed-issuing.crl.pem")).code).toBe(0);
    const crl = openssl(
      "crl",
      "-in",
      file("ed-issuing.crl.pem"),
      "-CAfile",
      file("ed-issuing.pem"),
      "-noout",
      "-text",
    );
    expect(crl).toContain("verify OK");
    expect(crl).toContain("Signature Algorithm: ED25519");
  });

  it("prints a CSR for an externally signed intermediate", () => {
    const made = ca("create-intermediate", "outside", "--external", "--subject", "CN=Outside Signed");
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain("-----BEGIN CERTIFICATE REQUEST-----");
    expect(made.stderr).toContain("strongroom ca import outside");
  });
});
