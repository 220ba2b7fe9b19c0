import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { toJsonLine } from "../domain/audit/audit-export.js";
import { checkpointToJson } from "../domain/audit/checkpoint-codec.js";
import type { AuditCheckpoint, AuditRecord } from "../domain/audit/model.js";

/**
 * Writes rows about to be pruned to `<dir>/audit-<first>-<last>.jsonl`, one JSON line each, ending
 * with the checkpoint signed at the cut (so `audit verify --checkpoint` takes the file as it is), and
 * syncs it to disk before the rows may go.
 */
export async function archiveAuditRows(
  dir: string,
  rows: AuditRecord[],
  cut: AuditCheckpoint,
): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `audit-${rows[0]?.seq ?? cut.seq}-${cut.seq}.jsonl`);
  const handle = await open(file, "w", 0o600);
  try {
    for (let i = 0; i < rows.length; i += 1000) {
      await handle.write(
        rows
          .slice(i, i + 1000)
          .map((r) => `${toJsonLine(r)}\n`)
          .join(""),
      );
    }
    await handle.write(`${checkpointToJson(cut)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return file;
}
