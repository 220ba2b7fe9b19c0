import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readAgentConfig, type SyncOutput } from "../../src/agent/sync/config.js";
import { deliver, ownersAndModes, previousPath, rollBack, unchanged } from "../../src/agent/sync/files.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "strongroom-sync-unit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const configWith = (syncs: unknown) => {
  const file = join(dir, "agent.json");
  writeFileSync(file, JSON.stringify({ syncs }));
  return () => readAgentConfig(file);
};
const sync = (extra: Record<string, unknown> = {}) => ({
  vaultUrl: "https://vault.example",
  certificate: "web",
  outputs: [{ kind: "fullchain", path: "/etc/ssl/web.pem" }],
  ...extra,
});

describe("the agent configuration file", () => {
  it("takes a recipe's reload command and gives keys a private mode by default", () => {
    const [web] = configWith([
      sync({
        recipe: "nginx",
        outputs: [
          { kind: "key", path: "/k.pem" },
          { kind: "cert", path: "/c.pem" },
        ],
      }),
    ])().syncs;
    expect(web?.reload).toEqual(["nginx", "-s", "reload"]);
    expect(web?.outputs.map((o) => o.mode)).toEqual([0o600, 0o644]);
    expect(web?.pollMs).toBe(30_000);
  });

  it("asks for the unit of the systemd recipe", () => {
    expect(configWith([sync({ recipe: "systemd" })])).toThrow(/systemd recipe needs a unit/);
    expect(configWith([sync({ recipe: "systemd", unit: "app" })])().syncs[0]?.reload).toEqual([
      "systemctl",
      "reload-or-restart",
      "app",
    ]);
  });

  it.each([
    [sync({ vaultUrl: "http://vault.example" }), /vaultUrl must be https/],
    [sync({ outputs: [] }), /at least one file/],
    [sync({ outputs: [{ kind: "jpeg", path: "/x" }] }), /kind must be one of/],
    [sync({ outputs: [{ kind: "key", path: "relative.pem" }] }), /must be absolute/],
    [sync({ outputs: [{ kind: "key", path: "/k.pem", mode: "rw-" }] }), /octal/],
    [sync({ outputs: [{ kind: "key", path: "/k.pem", uid: "root" }] }), /numeric id/],
    [sync({ recipe: "lighttpd" }), /recipe must be one of/],
    [sync({ reload: "nginx -s reload" }), /list of arguments/],
    [sync({ healthCheck: { host: "127.0.0.1", port: 70000 } }), /port must be 1-65535/],
    [[sync(), sync()], /more than one output/],
    [sync({ tags: { env: "prod" } }), /either certificate .* or tags/],
    [sync({ certificate: undefined, tags: {} }), /at least one tag/],
    [sync({ certificate: undefined, name: "prod", tags: { env: "prod" } }), /must contain \{certificate\}/],
    [
      sync({
        certificate: undefined,
        tags: { env: "prod" },
        outputs: [{ kind: "cert", path: "/{certificate}/c.pem" }],
      }),
      /needs a name/,
    ],
    [sync({ outputs: [{ kind: "pkcs12", path: "/a.p12" }] }), /needs passwordFile/],
    [
      sync({ outputs: [{ kind: "jks", path: "/a.jks", passwordFile: "pass.txt" }] }),
      /passwordFile .* must be absolute/,
    ],
  ])("refuses %j with a clear message", (syncs, message) => {
    expect(configWith(Array.isArray(syncs) ? syncs : [syncs])).toThrow(message);
  });
});

describe("tag selectors and keystores in the configuration", () => {
  it("takes a tag selector whose paths name each certificate, and keystores with a password file", () => {
    const [prod] = configWith([
      {
        name: "prod",
        vaultUrl: "https://vault.example",
        tags: { env: "prod" },
        outputs: [
          { kind: "pkcs12", path: "/srv/{certificate}/app.p12", passwordFile: "/etc/app.pass" },
          { kind: "jks", path: "/srv/{certificate}/app.jks", passwordFile: "/etc/app.pass", alias: "app" },
        ],
      },
    ])().syncs;
    expect(prod?.certificate).toBeUndefined();
    expect(prod?.tags).toEqual({ env: "prod" });
    expect(prod?.outputs.map((o) => [o.kind, o.mode, o.alias])).toEqual([
      ["pkcs12", 0o600, "certificate"],
      ["jks", 0o600, "app"],
    ]);
  });
});

describe("delivering files", () => {
  const output = (name: string, mode = 0o640): SyncOutput => ({ kind: "cert", path: join(dir, name), mode });

  it("writes with the configured mode, keeps the previous file and restores it", async () => {
    const cert = output("cert.pem");
    writeFileSync(cert.path, "old", { mode: 0o644 });
    const before = await ownersAndModes([cert]);
    await deliver([{ output: cert, content: "new" }]);
    expect(readFileSync(cert.path, "utf8")).toBe("new");
    expect(statSync(cert.path).mode & 0o777).toBe(0o640);
    expect(readFileSync(previousPath(cert.path), "utf8")).toBe("old");

    expect(await rollBack([cert], before)).toBe(true);
    expect(readFileSync(cert.path, "utf8")).toBe("old");
    expect(statSync(cert.path).mode & 0o777).toBe(0o644);
  });

  it("sees when nothing changed, and has nothing to roll back to on a first delivery", async () => {
    const cert = output("first.pem");
    expect(await unchanged([{ output: cert, content: "x" }])).toBe(false);
    await deliver([{ output: cert, content: "x" }]);
    expect(await unchanged([{ output: cert, content: "x" }])).toBe(true);
    expect(await unchanged([{ output: cert, content: "y" }])).toBe(false);
    expect(await rollBack([cert], new Map())).toBe(false);
    expect(readFileSync(cert.path, "utf8")).toBe("x");
  });

  it("counts a file that must only exist (a keystore beside its marker) as changed when it is missing", async () => {
    const marker = output("marker");
    await deliver([{ output: marker, content: "fingerprint" }]);
    expect(await unchanged([{ output: marker, content: "fingerprint" }], [join(dir, "store.p12")])).toBe(
      false,
    );
    writeFileSync(join(dir, "store.p12"), Buffer.of(0x30, 0x82));
    expect(await unchanged([{ output: marker, content: "fingerprint" }], [join(dir, "store.p12")])).toBe(
      true,
    );
  });

  it("makes a missing directory, as a newly tagged certificate's", async () => {
    const nested = output("new-cert/fullchain.pem");
    await deliver([{ output: nested, content: "x" }]);
    expect(readFileSync(nested.path, "utf8")).toBe("x");
  });
});
