import { escapeHtml } from "../events/notices.js";
import type { Count, PostureCounts, PostureStream } from "./posture.js";

export const POSTURE_FORMATS = ["json", "csv", "html"] as const;
export type PostureFormat = (typeof POSTURE_FORMATS)[number];

// RFC 4180: quote every field, double the quotes inside.
const csvField = (v: string | number | boolean) => `"${String(v).replace(/"/g, '""')}"`;
const csvRow = (fields: (string | number | boolean)[]) => `${fields.map(csvField).join(",")}\r\n`;

function countRows(scope: string, group: string, c: PostureCounts): (string | number)[][] {
  const rows: (string | number)[][] = [[scope, group, "total", "", c.total]];
  const add = (section: string, list: Count[]) => {
    for (const x of list) rows.push([scope, group, section, x.value, x.count]);
  };
  add("keyAlgorithm", c.byKeyAlgorithm);
  add("signatureAlgorithm", c.bySignatureAlgorithm);
  add("issuer", c.byIssuer);
  for (const [bucket, n] of Object.entries(c.byExpiry)) rows.push([scope, group, "expiry", bucket, n]);
  return rows;
}

/** Joins many small pieces into ~64 KiB ones: a write per row would cost more than the row. */
async function* joined(pieces: AsyncIterable<string>): AsyncIterable<string> {
  let buffer = "";
  for await (const piece of pieces) {
    buffer += piece;
    if (buffer.length >= 65_536) {
      yield buffer;
      buffer = "";
    }
  }
  if (buffer) yield buffer;
}

/**
 * One CSV table for every count (`scope,group,section,value,count`) followed by the
 * quantum-readiness list, each with its own header line, so a spreadsheet can filter either.
 */
async function* postureCsv({ summary: r, quantumEntries }: PostureStream): AsyncIterable<string> {
  yield csvRow(["scope", "group", "section", "value", "count"]);
  const rows = [
    ...countRows("installation", "", r.overall),
    ...r.byVault.flatMap((v) => countRows("vault", v.vault, v)),
    ...r.byOwner.flatMap((o) => countRows("owner", o.owner, o)),
    ...(r.violationsByRule ?? []).map((v) => ["violations", v.kind, "rule", v.ruleId, v.count]),
  ];
  for (const row of rows) yield csvRow(row);
  yield "\r\n";
  yield csvRow(["rank", "fingerprint", "subject", "keyAlgorithm", "isCa", "notAfter", "owner", "locations"]);
  for await (const q of quantumEntries)
    yield csvRow([
      q.rank,
      q.fingerprint,
      q.subject,
      q.keyAlgorithm,
      q.isCa,
      q.notAfter,
      q.owner ?? "",
      q.locations.join(" "),
    ]);
}

const tableRow = (row: (string | number)[]) =>
  `<tr>${row.map((c) => `<td>${escapeHtml(String(c))}</td>`).join("")}</tr>`;
const tableHead = (head: string[]) =>
  `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>`;
const table = (head: string[], rows: (string | number)[][]) =>
  `${tableHead(head)}${rows.map(tableRow).join("")}</tbody></table>`;

function countsHtml(c: PostureCounts): string {
  const list = (title: string, l: Count[]) =>
    `<h4>${escapeHtml(title)}</h4>${table(
      ["Value", "Certificates"],
      l.map((x) => [x.value, x.count]),
    )}`;
  return [
    `<p>${c.total} certificates in use.</p>`,
    `<h4>Expiry</h4>${table(Object.keys(c.byExpiry), [Object.values(c.byExpiry)])}`,
    list("Key algorithm and size", c.byKeyAlgorithm),
    list("Signature algorithm", c.bySignatureAlgorithm),
    list("Issuer", c.byIssuer),
  ].join("\n");
}

/** A printable page with no outside references: styles inline, no scripts, no fonts or images. */
async function* postureHtml({ summary: r, quantumEntries }: PostureStream): AsyncIterable<string> {
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Certificate posture ${escapeHtml(r.generatedAt.slice(0, 10))}</title>
<style>
body{font:12px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #999;padding:2px 6px;text-align:left;vertical-align:top;white-space:pre-line}
th{background:#eee}h2{page-break-before:auto;border-bottom:1px solid #333}
@media print{h2{page-break-after:avoid}table{page-break-inside:auto}tr{page-break-inside:avoid}}
</style></head><body>
`;
  const sections = [
    `<h1>Certificate posture</h1><p>Generated ${escapeHtml(r.generatedAt)}.</p>`,
    `<h2>Installation</h2>${countsHtml(r.overall)}`,
    ...r.byVault.map((v) => `<h2>Vault ${escapeHtml(v.vault)}</h2>${countsHtml(v)}`),
    ...r.byOwner.map((o) => `<h2>Owner ${escapeHtml(o.owner)}</h2>${countsHtml(o)}`),
    r.violationsByRule
      ? `<h2>Violations by rule</h2>${table(
          ["Rule", "Kind", "Open findings"],
          r.violationsByRule.map((v) => [v.ruleId, v.kind, v.count]),
        )}`
      : "<h2>Violations by rule</h2><p>The inventory is not graded against rules on this installation yet.</p>",
    "<h2>Quantum readiness</h2><p>Every RSA and elliptic-curve key, in the order to migrate them.</p>",
  ];
  for (const section of sections) yield `${section}\n`;
  yield tableHead(["#", "Subject", "Key", "CA", "Expires", "Owner", "Where"]);
  for await (const q of quantumEntries)
    yield tableRow([
      q.rank,
      q.subject,
      q.keyAlgorithm,
      q.isCa ? "yes" : "",
      q.notAfter.slice(0, 10),
      q.owner ?? "",
      q.locations.join("\n"),
    ]);
  yield "</tbody></table>\n</body></html>\n";
}

const indented = (value: unknown, by: string) => JSON.stringify(value, null, 2).replace(/\n/g, `\n${by}`);

/** The same text `JSON.stringify(report, null, 2)` gives, written as the list is read. */
async function* postureJson({ summary, quantumEntries }: PostureStream): AsyncIterable<string> {
  yield indented(summary, "").replace(/\n}$/, ',\n  "quantumReadiness": [');
  let first = true;
  for await (const q of quantumEntries) {
    yield `${first ? "" : ","}\n    ${indented(q, "    ")}`;
    first = false;
  }
  yield first ? "]\n}\n" : "\n  ]\n}\n";
}

const RENDERERS: Record<
  PostureFormat,
  { contentType: string; render: (s: PostureStream) => AsyncIterable<string> }
> = {
  json: { contentType: "application/json; charset=utf-8", render: postureJson },
  csv: { contentType: "text/csv; charset=utf-8", render: postureCsv },
  html: { contentType: "text/html; charset=utf-8", render: postureHtml },
};

export function renderPosture(
  stream: PostureStream,
  format: PostureFormat,
): { contentType: string; body: AsyncIterable<string> } {
  const { contentType, render } = RENDERERS[format];
  return { contentType, body: joined(render(stream)) };
}
