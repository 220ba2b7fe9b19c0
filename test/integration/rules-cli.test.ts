import { afterAll, describe, expect, it } from "vitest";
import { cliWith } from "../support/cli.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom rules on the command line", () => {
  const data = tempDataDir();
  const { cli, json } = cliWith(["--data-dir", data.dir]);
  afterAll(() => data.remove());

  it("sets, lists, shows and deletes rules, each change audited with its intent", () => {
    expect(cli("vault", "create", "team").code).toBe(0);
    const locked = json("rules", "set", "key-types", "RSA,EC", "--lock");
    expect(locked).toMatchObject({
      level: "installation",
      kind: "key-types",
      value: ["RSA", "EC"],
      locked: true,
    });
    const vault = json(
      "rules",
      "set",
      "max-validity-days",
      "90",
      "--vault",
      "team",
      "--entry",
      "keyvault-create",
    );
    expect(vault).toMatchObject({ level: "vault", target: "team", value: 90, entries: ["keyvault-create"] });

    expect(
      json("rules", "list")
        .map((r: { id: string }) => r.id)
        .sort(),
    ).toEqual([locked.id, vault.id].sort());
    expect(json("rules", "list", "--vault", "team").map((r: { id: string }) => r.id)).toEqual([vault.id]);
    expect(
      json("rules", "list", "--vault", "team", "--effective").map((r: { kind: string }) => r.kind),
    ).toEqual(["key-types", "max-validity-days"]);
    expect(json("rules", "show", vault.id)).toEqual(vault);
    expect(cli("rules", "delete", vault.id).code).toBe(0);
    expect(json("rules", "list").map((r: { id: string }) => r.id)).toEqual([locked.id]);

    const audit = cli("audit", "export")
      .stdout.split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { operation: string; outcome: string });
    const set = audit.filter((r) => r.operation === "strongroom rules set").map((r) => r.outcome);
    expect(set).toEqual(["pending", "success", "pending", "success"]);
    expect(audit.filter((r) => r.operation === "strongroom rules delete").map((r) => r.outcome)).toEqual([
      "pending",
      "success",
    ]);
  });

  it("sets an owner's rule, which the owner's effective rules include beside the locked one", () => {
    json("rules", "set", "key-types", "RSA,EC", "--lock");
    const owned = json("rules", "set", "dns-names", "pay.example.com", "--owner", "Payments");
    expect(owned).toMatchObject({ level: "owner", target: "Payments", value: ["pay.example.com"] });
    expect(json("rules", "list", "--owner", "payments").map((r: { id: string }) => r.id)).toEqual([owned.id]);
    expect(
      json("rules", "list", "--owner", "PAYMENTS", "--effective")
        .map((r: { kind: string }) => r.kind)
        .sort(),
    ).toEqual(["dns-names", "key-types"]);
    expect(cli("rules", "delete", owned.id).code).toBe(0);
  });

  it("refuses a value the rule cannot mean, naming the kinds, and changes nothing", () => {
    const before = json("rules", "list");
    const bad = cli("rules", "set", "max-validity-days", "ninety");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/max-validity-days takes a whole number/);
    const unknown = cli("rules", "set", "colour", "blue");
    expect(unknown.stderr).toMatch(/not a kind of rule; kinds: key-types/);
    expect(json("rules", "list")).toEqual(before);
  });

  it("grades the inventory and lists what it found", () => {
    const graded = json("rules", "grade");
    expect(graded).toMatchObject({ mode: "full", graded: 0, opened: 0 });
    expect(json("rules", "findings")).toEqual({ value: [], next: null });
  });
});
