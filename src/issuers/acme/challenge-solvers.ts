import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { base64url } from "jose";
import type { ChallengeSettings, PresentedChallenge } from "../../domain/acme/model.js";
import type { AcmeStore } from "../../domain/acme/ports.js";
import type { Clock } from "../../domain/clock.js";
import type { HttpFetch } from "./acme-http.js";

/** A solver could not put the answer in place: the operation fails, as retrying would not help. */
export class ChallengeSolverError extends Error {
  override name = "ChallengeSolverError";
}

/** Puts a challenge's answer where the CA will look, and takes it away when the order ends. */
export interface ChallengeSolver {
  present(challenge: PresentedChallenge): Promise<void>;
  cleanup(challenge: PresentedChallenge): Promise<void>;
}

export interface SolverDeps {
  store: Pick<AcmeStore, "putChallenge" | "deleteChallenge">;
  http: HttpFetch;
  clock: Clock;
  hookTimeoutMs?: number;
}

/** RFC 8555 §8.4: the TXT record's name and value. */
export function dnsRecord(challenge: PresentedChallenge): { name: string; value: string } {
  return {
    name: `_acme-challenge.${challenge.identifier.replace(/^\*\./, "")}.`,
    value: base64url.encode(createHash("sha256").update(challenge.keyAuthorization).digest()),
  };
}

/**
 * Hook arguments follow lego's exec provider for dns-01 (`present|cleanup <fqdn> <value>`), so
 * existing scripts work; http-01 hooks get `present|cleanup <domain> <token> <key-authorization>`.
 */
function hookArguments(action: "present" | "cleanup", c: PresentedChallenge): string[] {
  if (c.type === "dns-01") {
    const { name, value } = dnsRecord(c);
    return [action, name, value];
  }
  return [action, c.identifier, c.token, c.keyAuthorization];
}

function runHook(command: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // The command is the administrator's shell line; the challenge values go as positional
    // arguments, never spliced into it.
    execFile(
      "/bin/sh",
      ["-c", `${command} "$@"`, "strongroom-acme-hook", ...args],
      { timeout: timeoutMs },
      (error, _stdout, stderr) => {
        if (error)
          reject(new Error(`ACME hook "${command} ${args[0]}" failed: ${stderr.trim() || error.message}`));
        else resolve();
      },
    );
  });
}

const BASE64URL_TOKEN = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * RFC 8555 §8.1: a token holds only base64url characters, without padding. The token comes from a
 * remote CA and becomes a file name under the webroot and a hook argument; one holding "/", ".."
 * or NUL would write or delete files outside the challenge directory, so it is refused before any
 * solver sees it. 255 is the longest file name common file systems take.
 */
export function checkChallengeToken(token: string): void {
  if (!BASE64URL_TOKEN.test(token))
    throw new ChallengeSolverError(
      `The CA sent a challenge token that is not base64url (RFC 8555 §8.1): ${JSON.stringify(token.slice(0, 80))}`,
    );
}

export function createChallengeSolver(settings: ChallengeSettings, deps: SolverDeps): ChallengeSolver {
  const solver = solverFor(settings, deps);
  return {
    async present(c) {
      checkChallengeToken(c.token);
      try {
        await solver.present(c);
      } catch (error) {
        throw new ChallengeSolverError(
          `The ${settings.type} ${settings.solver} solver could not present the challenge for ${c.identifier}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    async cleanup(c) {
      checkChallengeToken(c.token);
      await solver.cleanup(c);
    },
  };
}

function solverFor(settings: ChallengeSettings, deps: SolverDeps): ChallengeSolver {
  const timeoutMs = deps.hookTimeoutMs ?? 5 * 60_000;
  switch (settings.solver) {
    case "responder":
      return {
        present: (c) => deps.store.putChallenge(c.token, c.keyAuthorization, deps.clock.now()),
        cleanup: (c) => deps.store.deleteChallenge(c.token),
      };
    case "webroot": {
      // Tokens reach here only through checkChallengeToken, so join() cannot climb out of the directory.
      const directory = join(settings.webroot, ".well-known", "acme-challenge");
      return {
        async present(c) {
          await mkdir(directory, { recursive: true });
          await writeFile(join(directory, c.token), c.keyAuthorization, { mode: 0o644 });
        },
        cleanup: (c) => rm(join(directory, c.token), { force: true }),
      };
    }
    case "hook":
      return {
        present: (c) => runHook(settings.command, hookArguments("present", c), timeoutMs),
        cleanup: (c) => runHook(settings.command, hookArguments("cleanup", c), timeoutMs),
      };
    case "webhook": {
      const call = async (action: "present" | "cleanup", c: PresentedChallenge) => {
        const { name, value } = dnsRecord(c);
        const r = await deps.http(settings.webhookUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action, type: "dns-01", domain: c.identifier, recordName: name, value }),
        });
        if (r.status < 200 || r.status >= 300)
          throw new Error(`DNS webhook ${settings.webhookUrl} answered ${r.status} to ${action}`);
      };
      return { present: (c) => call("present", c), cleanup: (c) => call("cleanup", c) };
    }
  }
}
