import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { opensslCsr } from "../support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

/** The URL of an extension's first URI, as openssl prints the certificate. */
function uriAfter(text: string, heading: string): string {
  const section = text.slice(text.indexOf(heading));
  return /URI:(\S+)/.exec(section)?.[1] ?? "";
}

describe("PKI URLs of CAs made by the CLI beside a running server", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  let server: ServerProcess;
  const ca = (...args: string[]) => runCli(["ca", ...args, "--data-dir", data.dir, "--log-level", "silent"]);

  beforeAll(async () => {
    // Port 0: the PKI listener is on whatever port it gets, never the default 8080.
    server = await startServerProcess(data.dir);
  });
  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  it("bakes the server's PKI URL in, and a shard CRL from `ca revoke` passes openssl -crl_check", async () => {
    expect(server.pkiUrl).not.toMatch(/:8080$/);
    expect(ca("create-root", "url-root", "--subject", "CN=URL Root").code).toBe(0);
    const made = ca(
      "create-intermediate",
      "url-issuing",
      "--parent",
      "url-root",
      "--subject",
      "CN=URL Issuing",
      "--crl-shards",
      "4",
    );
    expect(made.code, made.stderr).toBe(0);
    opensslCsr(file("leaf.key"), file("leaf.csr"), "/CN=leaf.url.test");
    const signed = ca("sign", "url-issuing", "--csr", file("leaf.csr"), "-o", file("leaf.pem"));
    expect(signed.code, signed.stderr).toBe(0);
    const serial = /Issued serial ([0-9a-f]+)/.exec(signed.stderr)?.[1] ?? "";
    const revoked = ca("revoke", "--serial", serial, "--reason", "keyCompromise");
    expect(revoked.code, revoked.stderr).toBe(0);

    const text = spawnSync("openssl", ["x509", "-in", file("leaf.pem"), "-noout", "-text"], {
      encoding: "utf8",
    }).stdout;
    const cdp = uriAfter(text, "CRL Distribution Points");
    expect(cdp.startsWith(`${server.pkiUrl}/pki/crl/`)).toBe(true);
    expect(uriAfter(text, "Authority Information Access").startsWith(server.pkiUrl)).toBe(true);

    // What a relying party does: fetch the CRL at the certificate's CDP from the server.
    const crl = Buffer.from(await (await fetch(cdp)).arrayBuffer());
    writeFileSync(file("leaf.crl"), crl);
    const pem = spawnSync("openssl", ["crl", "-inform", "DER", "-in", file("leaf.crl")], {
      encoding: "utf8",
    });
    writeFileSync(file("crl.pem"), pem.stdout);
    writeFileSync(file("root.pem"), ca("show", "url-root", "--pem").stdout);
    writeFileSync(file("issuing.pem"), ca("show", "url-issuing", "--pem").stdout);
    const verify = spawnSync(
      "openssl",
      [
        "verify",
        "-crl_check",
        "-CAfile",
        file("root.pem"),
        "-untrusted",
        file("issuing.pem"),
        "-CRLfile",
        file("crl.pem"),
        file("leaf.pem"),
      ],
      { encoding: "utf8" },
    );
    const said = `${verify.stdout}${verify.stderr}`;
    // Revoked, which openssl can only say once it accepted the CRL's scope as this certificate's.
    expect(said).toContain("certificate revoked");
    expect(said).not.toContain("different CRL scope");
  });

  it("uses the URL a command is given instead of the server's", () => {
    const made = ca("create-root", "other-root", "--subject", "CN=Other Root");
    expect(made.code).toBe(0);
    const shown = runCli([
      "ca",
      "show",
      "other-root",
      "--data-dir",
      data.dir,
      "--pki-port",
      "9999",
      "--log-level",
      "silent",
    ]);
    expect(shown.stdout).toContain("http://localhost:9999/pki/ca/");
  });
});
