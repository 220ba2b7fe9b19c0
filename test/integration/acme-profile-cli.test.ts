import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom acme-profile", () => {
  const data = tempDataDir();
  const cli = (...args: string[]) => runCli([...args, "--data-dir", data.dir]);

  beforeAll(() => {
    const created = cli("ca", "create-root", "issuing", "--subject", "CN=CLI ACME Root");
    expect(created.code, created.stderr).toBe(0);
  }, 60_000);

  afterAll(() => data.remove());

  it("creates, shows, updates, lists and deletes a profile with its EAB keys", () => {
    const created = cli(
      "acme-profile",
      "create",
      "web",
      "--ca",
      "issuing",
      "--validity-days",
      "30",
      "--eab",
      "required",
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain("/acme/web/directory");

    const key = cli("acme-profile", "eab-key", "create", "web", "--json");
    expect(key.code, key.stderr).toBe(0);
    const { keyId, hmacKey } = JSON.parse(key.stdout);
    expect(hmacKey).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const updated = cli("acme-profile", "update", "web", "--renewal-window", "50-75", "--eab", "optional");
    expect(updated.code, updated.stderr).toBe(0);
    const shown = JSON.parse(cli("acme-profile", "show", "web", "--json").stdout);
    expect(shown).toMatchObject({
      name: "web",
      ca: "issuing",
      validityDays: 30,
      eabRequired: false,
      renewalWindowPercent: [50, 75],
      eabKeys: [{ keyId, accountId: null }],
    });
    expect(JSON.stringify(shown)).not.toContain(hmacKey);

    expect(cli("acme-profile", "list").stdout).toContain("web\tissuing\t30d");
    expect(cli("acme-profile", "delete", "web").code).toBe(0);
    expect(cli("acme-profile", "list", "--json").stdout.trim()).toBe("[]");
  }, 120_000);

  it("refuses bad settings with one line naming the setting", () => {
    for (const [args, message] of [
      [["--ca", "nope"], "No certificate authority named nope"],
      [["--ca", "issuing", "--validity-days", "0"], "validityDays"],
      [["--ca", "issuing", "--key-types", "DSA"], "DSA"],
      [["--ca", "issuing", "--renewal-window", "80-20"], "renewalWindowStartPercent"],
    ] as const) {
      const refused = cli("acme-profile", "create", "bad", ...args);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(message);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(cli("acme-profile", "show", "bad").stderr).toContain("No ACME profile named bad");
  }, 120_000);
});
