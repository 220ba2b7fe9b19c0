import { escapeHtml } from "../events/notices.js";
import type { Count, PostureCounts, PostureReport } from "./posture.js";

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

/**
 * One CSV table for every count (`scope,group,section,value,count`) followed by the
 * quantum-readiness list, each with its own header line, so a spreadsheet can filter either.
 */
export function postureCsv(r: PostureReport): string {
  let out = csvRow(["scope", "group", "section", "value", "count"]);
  const rows = [
    ...countRows("installation", "", r.overall),
    ...r.byVault.flatMap((v) => countRows("vault", v.vault, v)),
    ...r.byOwner.flatMap((o) => countRows("owner", o.owner, o)),
    ...(r.violationsByRule ?? []).map((v) => ["violations", v.kind, "rule", v.ruleId, v.count]),
  ];
  for (const row of rows) out += csvRow(row);
  out += "\r\n";
  out += csvRow(["rank", "fingerprint", "subject", "keyAlgorithm", "isCa", "notAfter", "owner", "locations"]);
  for (const q of r.quantumReadiness)
    out += csvRow([
      q.rank,
      q.fingerprint,
      q.subject,
      q.keyAlgorithm,
      q.isCa,
      q.notAfter,
      q.owner ?? "",
      q.locations.join(" "),
    ]);
  return out;
}

const table = (head: string[], rows: (string | number)[][]) =>
  `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(String(c))}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;

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
export function postureHtml(r: PostureReport): string {
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
    `<h2>Quantum readiness</h2><p>Every RSA and elliptic-curve key, in the order to migrate them.</p>${table(
      ["#", "Subject", "Key", "CA", "Expires", "Owner", "Where"],
      r.quantumReadiness.map((q) => [
        q.rank,
        q.subject,
        q.keyAlgorithm,
        q.isCa ? "yes" : "",
        q.notAfter.slice(0, 10),
        q.owner ?? "",
        q.locations.join("\n"),
      ]),
    )}`,
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Certificate posture ${escapeHtml(r.generatedAt.slice(0, 10))}</title>
<style>
body{font:12px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #999;padding:2px 6px;text-align:left;vertical-align:top;white-space:pre-line}
th{background:#eee}h2{page-break-before:auto;border-bottom:1px solid #333}
@media print{h2{page-break-after:avoid}table{page-break-inside:auto}tr{page-break-inside:avoid}}
</style></head><body>
${sections.join("\n")}
</body></html>
`;
}

export function renderPosture(
  r: PostureReport,
  format: PostureFormat,
): { contentType: string; body: string } {
  if (format === "csv") return { contentType: "text/csv; charset=utf-8", body: postureCsv(r) };
  if (format === "html") return { contentType: "text/html; charset=utf-8", body: postureHtml(r) };
  return { contentType: "application/json; charset=utf-8", body: `${JSON.stringify(r, null, 2)}\n` };
}
