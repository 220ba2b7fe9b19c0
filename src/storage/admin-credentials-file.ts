import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { AdminCredentials } from "../domain/bootstrap/model.js";
import type { CredentialsFile } from "../domain/bootstrap/ports.js";

/**
 * admin.json, written to a temporary file and renamed over the old one, so a start killed halfway
 * leaves the previous file or none, never a truncated one that the next start cannot parse.
 */
export function createAdminCredentialsFile(path: string): CredentialsFile {
  return {
    path,
    read() {
      if (!existsSync(path)) return undefined;
      try {
        return JSON.parse(readFileSync(path, "utf8")) as AdminCredentials;
      } catch {
        // Unreadable leftovers of an older version: the administrator recorded in the database gets a new secret.
        return undefined;
      }
    },
    write(credentials) {
      const partial = `${path}.${process.pid}.tmp`;
      writeFileSync(partial, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
      renameSync(partial, path);
    },
  };
}
