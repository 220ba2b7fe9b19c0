import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { createCli } from "../../src/cli/commands.js";
import { runCli } from "../support/cli.js";

/** Every command below `command`, with its path from the top: ["cert", "create"]. */
function walk(command: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return command.commands.flatMap((sub) => {
    const here = [...path, sub.name()];
    return [{ path: here, command: sub }, ...walk(sub, here)];
  });
}

describe("strongroom --help", () => {
  const all = walk(createCli());

  it("has a group for each part a user manages", () => {
    expect(all.filter((c) => c.path.length === 1).map((c) => c.path[0])).toEqual(
      expect.arrayContaining([
        "serve",
        "vault",
        "cert",
        "issuer",
        "ca",
        "acme",
        "acme-profile",
        "principal",
        "role",
        "jobs",
        "audit",
        "est",
        "scep",
      ]),
    );
  });

  it("describes every group and every subcommand, and renders each one's help", () => {
    expect(all.length).toBeGreaterThan(60);
    for (const { path, command } of all) {
      expect(command.description(), path.join(" ")).not.toBe("");
      expect(command.helpInformation()).toContain(`Usage: strongroom ${path.join(" ")}`);
    }
  });

  it("answers --help of a group from the built command, listing its subcommands", () => {
    const help = runCli(["cert", "--help"]);
    expect(help.code).toBe(0);
    for (const sub of ["create", "import", "list", "show", "download", "delete"])
      expect(help.stdout).toMatch(new RegExp(`^  ${sub} `, "m"));
  });

  it("answers a missing argument with commander's one line and a non-zero exit", () => {
    const missing = runCli(["cert", "show"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe("error: missing required argument 'name'");
  });
});
