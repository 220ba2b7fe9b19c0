import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PresentedChallenge } from "../../src/domain/acme/model.js";
import {
  ChallengeSolverError,
  checkChallengeToken,
  createChallengeSolver,
} from "../../src/issuers/acme/challenge-solvers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A webroot inside a sandbox directory, with a file beside the webroot that a traversal would hit. */
function sandbox() {
  const root = mkdtempSync(join(tmpdir(), "strongroom-webroot-"));
  dirs.push(root);
  const webroot = join(root, "www");
  mkdirSync(webroot);
  writeFileSync(join(root, "victim"), "keep me");
  const solver = createChallengeSolver(
    { type: "http-01", solver: "webroot", webroot },
    {
      store: {
        putChallenge: async () => {},
        deleteChallenge: async () => {},
      },
      http: async () => {
        throw new Error("no HTTP in this test");
      },
      clock: { now: () => new Date() },
    },
  );
  return { root, webroot, solver };
}

const challenge = (token: string): PresentedChallenge => ({
  type: "http-01",
  identifier: "www.example.test",
  token,
  keyAuthorization: `${token}.thumbprint`,
});

const hostile = [
  "../victim",
  "../../../../tmp/owned",
  "..",
  ".",
  "a/b",
  "..\\victim",
  "/etc/passwd",
  "tok\0en",
  "padded==",
  "tok en",
  "tökén",
  "",
  "a".repeat(256),
];

describe("ACME challenge tokens (RFC 8555 §8.1)", () => {
  it("accepts base64url tokens such as real CAs send", () => {
    expect(() => checkChallengeToken("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA")).not.toThrow();
    expect(() => checkChallengeToken("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0_")).not.toThrow();
  });

  it.each(hostile.map((t) => [JSON.stringify(t).slice(0, 30), t]))("refuses the token %s", (_, token) => {
    expect(() => checkChallengeToken(token)).toThrow(ChallengeSolverError);
  });

  it("the webroot solver writes a valid token's key authorization under .well-known/acme-challenge", async () => {
    const { webroot, solver } = sandbox();
    const token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    await solver.present(challenge(token));
    const file = join(webroot, ".well-known", "acme-challenge", token);
    expect(readFileSync(file, "utf8")).toBe(`${token}.thumbprint`);
    await solver.cleanup(challenge(token));
    expect(existsSync(file)).toBe(false);
  });

  it.each(hostile.map((t) => [JSON.stringify(t).slice(0, 30), t]))(
    "the webroot solver touches no file for the token %s",
    async (_, token) => {
      const { root, webroot, solver } = sandbox();
      await expect(solver.present(challenge(token))).rejects.toThrow(/not base64url/);
      await expect(solver.cleanup(challenge(token))).rejects.toThrow(/not base64url/);
      // Refused before any file operation: not even the challenge directory was made.
      expect(readdirSync(webroot)).toEqual([]);
      expect(readdirSync(root).sort()).toEqual(["victim", "www"]);
      expect(readFileSync(join(root, "victim"), "utf8")).toBe("keep me");
    },
  );

  it("a traversal token does not delete the file it names on cleanup", async () => {
    const { root, solver } = sandbox();
    const challengeDir = join(root, "www", ".well-known", "acme-challenge");
    mkdirSync(challengeDir, { recursive: true });
    await expect(solver.cleanup(challenge("../../../victim"))).rejects.toThrow(ChallengeSolverError);
    expect(readFileSync(join(root, "victim"), "utf8")).toBe("keep me");
  });
});
