import type { AuditFilter, AuditOutcome, AuditRecord } from "./model.js";

export function matches(row: AuditRecord, f: AuditFilter): boolean {
  return (
    (f.since === undefined || row.time >= f.since) &&
    (f.until === undefined || row.time < f.until) &&
    (f.principal === undefined || row.principalId === f.principal || row.clientId === f.principal) &&
    (f.operation === undefined || row.operation === f.operation) &&
    (f.object === undefined || (row.objectId ?? "").startsWith(f.object)) &&
    (f.outcome === undefined || row.outcome === f.outcome)
  );
}

/** A row as one JSON line, fields named as in the API. */
export const toJsonLine = (row: AuditRecord): string =>
  JSON.stringify({ ...row, time: row.time.toISOString() });

/** OCSF 1.1 API Activity (class 6003): activity ids by the verb an operation name starts or ends with. */
const ACTIVITY: [RegExp, number, string][] = [
  [/(Create|Import|Set|Restore|Recover|Merge|create|assign|add)/, 1, "Create"],
  [/(Get|List|Backup|Sign|Verify|Decrypt|Encrypt|Wrap|Unwrap|list|show|export|verify)/, 2, "Read"],
  [/(Update|Patch|Rotate|update|enable|disable|revoke)/, 3, "Update"],
  [/(Delete|Purge|delete|remove|unassign|prune)/, 4, "Delete"],
];

function activity(operation: string): { id: number; name: string } {
  for (const [pattern, id, name] of ACTIVITY) if (pattern.test(operation)) return { id, name };
  return { id: 99, name: "Other" };
}

const OCSF_STATUS: Record<AuditOutcome, { id: number; name: string }> = {
  success: { id: 1, name: "Success" },
  failure: { id: 2, name: "Failure" },
  pending: { id: 99, name: "Pending" },
  unknown: { id: 0, name: "Unknown" },
};

/**
 * A row as an OCSF 1.1 API Activity event, which SIEM collectors (Amazon Security Lake, Splunk,
 * Sentinel's OCSF parsers) read without custom parsing; the chain fields go under `unmapped`.
 */
export function toOcsf(row: AuditRecord): Record<string, unknown> {
  const act = activity(row.operation);
  const status = OCSF_STATUS[row.outcome];
  return {
    class_uid: 6003,
    class_name: "API Activity",
    category_uid: 6,
    category_name: "Application Activity",
    activity_id: act.id,
    activity_name: act.name,
    type_uid: 6003 * 100 + act.id,
    severity_id: row.outcome === "failure" ? 3 : 1,
    time: row.time.getTime(),
    status_id: status.id,
    status: status.name,
    ...(row.status !== 0 && { status_code: String(row.status) }),
    ...(row.detail !== undefined && { status_detail: row.detail }),
    actor: {
      user: {
        uid: row.principalId ?? "anonymous",
        ...(row.clientId !== undefined && { account: { uid: row.clientId } }),
      },
    },
    api: {
      operation: row.operation,
      request: { uid: row.requestId },
      service: { name: "Strongroom" },
    },
    src_endpoint: { ip: row.clientAddress },
    ...(row.objectId !== undefined && {
      resources: [
        {
          uid: row.objectId,
          ...(row.vault !== undefined && { group: { name: row.vault } }),
          ...(row.version !== undefined && { version: row.version }),
        },
      ],
    }),
    metadata: {
      version: "1.1.0",
      product: { name: "Strongroom", vendor_name: "Strongroom" },
      sequence: row.seq,
      uid: `${row.seq}`,
    },
    unmapped: { prev_hash: row.prevHash, hash: row.hash },
  };
}
