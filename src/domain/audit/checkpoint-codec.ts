import { badParameter } from "../errors.js";
import type { AuditCheckpoint } from "./model.js";

/** One checkpoint as one JSON line: the form written to files, webhooks and syslog. */
export function checkpointToJson(c: AuditCheckpoint): string {
  return JSON.stringify({
    type: "strongroom.audit.checkpoint",
    seq: c.seq,
    hash: c.hash,
    time: c.time.toISOString(),
    signature: c.signature,
    publicKey: c.publicKey,
  });
}

/** Reads the newest checkpoint from text holding one or more JSON lines (a checkpoint file). */
export function checkpointFromText(text: string): AuditCheckpoint {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const last = lines[lines.length - 1];
  if (!last) throw badParameter("the checkpoint file is empty");
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw badParameter("the checkpoint file's last line is not JSON");
  }
  const { seq, hash, time, signature, publicKey } = value;
  if (
    typeof seq !== "number" ||
    typeof hash !== "string" ||
    typeof time !== "string" ||
    typeof signature !== "string" ||
    typeof publicKey !== "string" ||
    Number.isNaN(Date.parse(time))
  ) {
    throw badParameter("the checkpoint file's last line is not a Strongroom audit checkpoint");
  }
  return { seq, hash, time: new Date(time), signature, publicKey };
}
