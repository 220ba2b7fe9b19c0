import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { opensslSelfSigned } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";
import { commandExists, requireTool } from "../support/tools.js";

const haveOpenssl = requireTool("openssl", commandExists("openssl"), "apt-get install -y openssl");

function openssl(...args: string[]): string {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`;
}

describe.runIf(haveOpenssl)("strongroom cert and strongroom issuer", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  const cli = (...args: string[]) => runCli([...args, "--data-dir", file("data"), "--log-level", "silent"]);
  const ok = (...args: string[]) => {
    const r = cli(...args);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r;
  };
  const json = <T>(...args: string[]) => JSON.parse(ok(...args, "--json").stdout) as T;

  beforeAll(() => {
    ok("vault", "create", "web-certs");
    ok("ca", "create-root", "cli-root", "--subject", "CN=Cert CLI Root");
    ok(
      "ca",
      "create-intermediate",
      "cli-issuing",
      "--parent",
      "cli-root",
      "--subject",
      "CN=Cert CLI Issuing",
    );
    writeFileSync(file("root.pem"), ok("ca", "show", "cli-root", "--pem").stdout);
  });
  afterAll(() => data.remove());

  it("sets, updates, lists and shows a private CA issuer, never showing its password", () => {
    const set = ok(
      "issuer",
      "set",
      "corp",
      "--vault",
      "web-certs",
      "--provider",
      "PrivateCA",
      "--account-id",
      "cli-issuing",
      "--password",
      "not-printed",
    );
    expect(set.stdout.trim()).toBe("corp\tPrivateCA\tenabled\tcli-issuing");
    ok("issuer", "update", "corp", "--vault", "web-certs", "--organization-id", "ops");
    const issuers = json<{ name: string; provider: string; accountId: string; organizationId: string }[]>(
      "issuer",
      "list",
      "--vault",
      "web-certs",
    );
    expect(issuers).toEqual([
      expect.objectContaining({
        name: "corp",
        provider: "PrivateCA",
        accountId: "cli-issuing",
        organizationId: "ops",
      }),
    ]);
    const shown = ok("issuer", "show", "corp", "--vault", "web-certs");
    expect(shown.stdout).toMatch(/password:\s+set/);
    expect(shown.stdout).not.toContain("not-printed");
    expect(JSON.stringify(json("issuer", "show", "corp", "--vault", "web-certs"))).not.toContain(
      "not-printed",
    );
  });

  it("issues through the private CA and downloads a chain openssl verifies, and the key with it", () => {
    const created = ok(
      "cert",
      "create",
      "shop",
      "--vault",
      "web-certs",
      "--issuer",
      "corp",
      "--subject",
      "CN=shop.cli.test",
      "--dns",
      "shop.cli.test",
      "www.shop.cli.test",
      "--validity-months",
      "3",
      "--key",
      "EC",
      "--curve",
      "P-384",
    );
    expect(created.stderr).toContain("shop: requesting a certificate from issuer corp");
    expect(created.stderr).toMatch(/shop: issued version [0-9a-f]{32}/);
    expect(created.stdout).toMatch(/issuer:\s+CN=Cert CLI Issuing \(issuer object corp\)/);

    ok("cert", "download", "shop", "--vault", "web-certs", "-o", file("shop.pem"));
    const pem = readFileSync(file("shop.pem"), "utf8");
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    expect(pem).not.toContain("PRIVATE KEY");
    expect(
      openssl("verify", "-CAfile", file("root.pem"), "-untrusted", file("shop.pem"), file("shop.pem")),
    ).toContain("shop.pem: OK");
    const text = openssl("x509", "-in", file("shop.pem"), "-noout", "-text");
    expect(text).toContain("DNS:shop.cli.test, DNS:www.shop.cli.test");
    expect(text).toContain("NIST CURVE: P-384");

    ok(
      "cert",
      "download",
      "shop",
      "--vault",
      "web-certs",
      "--format",
      "pfx",
      "--with-key",
      "-o",
      file("shop.pfx"),
    );
    expect(statSync(file("shop.pfx")).mode & 0o777).toBe(0o600);
    const unpacked = openssl("pkcs12", "-in", file("shop.pfx"), "-passin", "pass:", "-nodes");
    expect(unpacked.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    writeFileSync(file("shop-key.pem"), unpacked);
    const keyPublic = openssl("pkey", "-in", file("shop-key.pem"), "-pubout");
    const certPublic = openssl("x509", "-in", file("shop.pem"), "-noout", "-pubkey");
    expect(keyPublic).toContain("BEGIN PUBLIC KEY");
    expect(keyPublic).toBe(certPublic);

    const issued = ok("ca", "issued", "cli-issuing").stdout;
    expect(issued).toMatch(/\tgood\t.*CN=shop\.cli\.test\tweb-certs\/shop\/[0-9a-f]{32}/);
  });

  it("downloads a non-exportable certificate without its key and refuses the key", () => {
    ok(
      "cert",
      "create",
      "vault-only",
      "--vault",
      "web-certs",
      "--issuer",
      "corp",
      "--subject",
      "CN=vault-only.cli.test",
      "--no-exportable",
    );
    const refused = cli(
      "cert",
      "download",
      "vault-only",
      "--vault",
      "web-certs",
      "--with-key",
      "-o",
      file("no.pem"),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain("is not exportable");
    ok(
      "cert",
      "download",
      "vault-only",
      "--vault",
      "web-certs",
      "--format",
      "pfx",
      "-o",
      file("vault-only.pfx"),
    );
    const unpacked = openssl("pkcs12", "-in", file("vault-only.pfx"), "-passin", "pass:", "-nodes");
    expect(unpacked).toContain("BEGIN CERTIFICATE");
    expect(unpacked).not.toContain("PRIVATE KEY");
  });

  it("imports a PEM and a password-protected PFX, refusing a wrong password", () => {
    opensslSelfSigned(file("imp.key"), file("imp.crt"), "/CN=imported.cli.test", { days: 30 });
    writeFileSync(
      file("imp.pem"),
      readFileSync(file("imp.key"), "utf8") + readFileSync(file("imp.crt"), "utf8"),
    );
    const fingerprint = /=([0-9A-F:]+)/.exec(
      openssl("x509", "-in", file("imp.crt"), "-noout", "-fingerprint", "-sha1"),
    )?.[1];
    const thumbprint = fingerprint?.replaceAll(":", "");

    ok("cert", "import", "from-pem", "--vault", "web-certs", "--file", file("imp.pem"));
    const fromPem = json<{ thumbprint: string; contentType: string; subject: string }>(
      "cert",
      "show",
      "from-pem",
      "--vault",
      "web-certs",
    );
    expect(fromPem).toMatchObject({
      thumbprint,
      contentType: "application/x-pem-file",
      subject: "CN=imported.cli.test",
    });

    execFileSync("openssl", [
      "pkcs12",
      "-export",
      "-inkey",
      file("imp.key"),
      "-in",
      file("imp.crt"),
      "-passout",
      "pass:s3cret",
      "-out",
      file("imp.pfx"),
    ]);
    const wrong = cli(
      "cert",
      "import",
      "from-pfx",
      "--vault",
      "web-certs",
      "--file",
      file("imp.pfx"),
      "--password",
      "nope",
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^strongroom: The PFX password is wrong/);
    ok(
      "cert",
      "import",
      "from-pfx",
      "--vault",
      "web-certs",
      "--file",
      file("imp.pfx"),
      "--password",
      "s3cret",
    );
    const fromPfx = json<{ thumbprint: string; contentType: string }>(
      "cert",
      "show",
      "from-pfx",
      "--vault",
      "web-certs",
    );
    expect(fromPfx).toMatchObject({ thumbprint, contentType: "application/x-pkcs12" });

    ok("cert", "download", "from-pfx", "--vault", "web-certs", "--with-key", "-o", file("back.pem"));
    expect(openssl("pkey", "-in", file("back.pem"), "-pubout")).toBe(
      openssl("pkey", "-in", file("imp.key"), "-pubout"),
    );
  });

  it("lists certificates as JSON and deletes one", () => {
    const listed = json<
      {
        vault: string;
        name: string;
        version: string;
        enabled: boolean;
        thumbprint: string;
        expires: string;
      }[]
    >("cert", "list", "--vault", "web-certs");
    expect(listed.map((c) => c.name).sort()).toEqual(["from-pem", "from-pfx", "shop", "vault-only"]);
    for (const c of listed) {
      expect(c).toMatchObject({ vault: "web-certs", enabled: true });
      expect(c.version).toMatch(/^[0-9a-f]{32}$/);
      expect(c.thumbprint).toMatch(/^[0-9A-F]{40}$/);
      expect(Number.isNaN(Date.parse(c.expires))).toBe(false);
    }
    const shop = json<{ policy: { issuer: string; sans: { dnsNames: string[] }; key: { curve: string } } }>(
      "cert",
      "show",
      "shop",
      "--vault",
      "web-certs",
    );
    expect(shop.policy).toMatchObject({
      issuer: "corp",
      sans: { dnsNames: ["shop.cli.test", "www.shop.cli.test"] },
      key: { curve: "P-384" },
    });

    expect(ok("cert", "delete", "from-pem", "--vault", "web-certs").stdout).toMatch(
      /Certificate from-pem deleted; purged on /,
    );
    expect(json<{ name: string }[]>("cert", "list", "--vault", "web-certs").map((c) => c.name)).not.toContain(
      "from-pem",
    );
    const gone = cli("cert", "show", "from-pem", "--vault", "web-certs");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("see what exists: `strongroom cert list`");
  });

  it("says in one line what to do when the issuer, the vault or the policy is wrong", () => {
    const noIssuer = cli(
      "cert",
      "create",
      "x",
      "--vault",
      "web-certs",
      "--issuer",
      "nope",
      "--subject",
      "CN=x",
    );
    expect(noIssuer.code).toBe(1);
    expect(noIssuer.stderr.trim().split("\n")).toEqual([
      "strongroom: Issuer not found: nope (see what exists: `strongroom issuer list`)",
    ]);

    const noVault = cli("cert", "list", "--vault", "nowhere");
    expect(noVault.code).toBe(1);
    expect(noVault.stderr.trim()).toMatch(
      /^strongroom: Vault nowhere does not exist \(see what exists: `strongroom vault list`/,
    );

    const outside = cli(
      "cert",
      "create",
      "y",
      "--vault",
      "web-certs",
      "--issuer",
      "corp",
      "--subject",
      "CN=y",
      "--key-size",
      "1000",
    );
    expect(outside.code).toBe(1);
    expect(outside.stderr.trim().split("\n")).toHaveLength(2);
    expect(outside.stderr).toContain("key_size");
  });

  it("prints --json for the other groups' list and show commands, without key material", () => {
    const vaults = json<{ name: string; url: string; softDeleteRetentionDays: number }[]>("vault", "list");
    expect(vaults).toEqual([expect.objectContaining({ name: "web-certs", softDeleteRetentionDays: 90 })]);
    expect(vaults[0]?.url).toMatch(/^https:\/\/web-certs\./);
    expect(json<{ name: string }>("vault", "show", "web-certs").name).toBe("web-certs");

    const cas = json<{ name: string; kind: string; status: string; crlUrl: string }[]>("ca", "list");
    expect(cas.map((c) => [c.name, c.kind, c.status]).sort()).toEqual([
      ["cli-issuing", "intermediate", "active"],
      ["cli-root", "root", "active"],
    ]);
    const issuing = ok("ca", "show", "cli-issuing", "--json").stdout;
    expect(JSON.parse(issuing)).toMatchObject({ name: "cli-issuing", parentId: expect.any(String) });
    const issued = json<{ serial: string; status: string; vault: { name: string } }[]>(
      "ca",
      "issued",
      "cli-issuing",
    );
    expect(issued.map((i) => i.vault.name).sort()).toEqual(["shop", "vault-only"]);
    for (const text of [issuing, JSON.stringify(issued), JSON.stringify(cas)]) {
      expect(text).not.toMatch(/keyMaterial|"der"|"certificate"/);
    }

    ok("webhook", "create", "ops", "--endpoint", "https://hooks.example/x", "--secret", "hook-secret");
    const hooks = ok("webhook", "list", "--json").stdout;
    expect(JSON.parse(hooks)).toEqual([expect.objectContaining({ name: "ops", signed: true })]);
    expect(hooks).not.toMatch(/hook-secret|sealedSecret/);

    expect(json<{ name: string }[]>("role", "list").map((r) => r.name)).toContain("Key Vault Administrator");
    expect(json<{ name: string; intervalSeconds: number }[]>("jobs", "list")).toContainEqual({
      name: "pending-issuance",
      intervalSeconds: 5,
    });
    expect(json<unknown[]>("acme", "list", "web-certs")).toEqual([]);
  });
});
