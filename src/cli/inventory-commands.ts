import { type Command, Option } from "commander";
import { badParameter } from "../domain/errors.js";
import { SOURCES } from "../domain/inventory/inventory-service.js";
import type { InventoryRecord } from "../domain/inventory/model.js";
import { keyTypeLabel } from "../domain/inventory/terms.js";
import {
  csvHeader,
  csvLine,
  type InventoryFilters,
  inventoryItem,
  inventoryQuery,
} from "../http/admin/inventory-wire.js";
import { withCore } from "./program.js";

interface ListFlags extends Omit<InventoryFilters, "expired"> {
  expired?: boolean;
  all?: boolean;
  facets?: boolean;
  json?: boolean;
  csv?: boolean;
}

const line = (r: InventoryRecord) =>
  [
    r.notAfter.toISOString().slice(0, 10),
    r.fingerprintSha256,
    keyTypeLabel(r).padEnd(9),
    r.signatureAlgorithm.padEnd(23),
    `${r.locations.filter((l) => !l.goneAt).length} loc`,
    r.subject,
  ].join("  ");

/** The inventory's filters as flags; `inventory list` and `campaign create` select with them. */
export const inventoryFilterOptions = (c: Command): Command =>
  c
    .option("--expiring-within <duration>", "notAfter within this from now: 30d, 12h, 2w")
    .option("--expired", "notAfter has passed")
    .option("--issuer <words>", "words that all appear in the issuer name")
    .option("--subject <words>", "words that all appear in the subject name")
    .option("--san <name>", "a SAN equal to this, or a DNS name under it (example.com finds www.example.com)")
    .option("--key-type <type>", "RSA, EC, Ed25519, …")
    .option("--min-key-size <bits>", "key size of at least this many bits")
    .option(
      "--key-size-below <bits>",
      "key size under this many bits (with --key-type RSA: 3072 finds RSA < 3072)",
    )
    .option("--signature-algorithm <name>", "e.g. sha1WithRSAEncryption, ecdsa-with-SHA256")
    .addOption(new Option("--source <source>", "seen by this source and still there").choices([...SOURCES]))
    .option("--location <prefix>", "seen at a location starting with this, e.g. tls://10.0.0.")
    .option("--owner <value>", "owner team, application or contact");

/** `strongroom inventory list|show|owner`: search, export and one record, straight from the database. */
export function registerInventoryCommands(program: Command): void {
  const inventory = program
    .command("inventory")
    .description("search and export the certificate inventory; the server's inventory job keeps it current");

  inventoryFilterOptions(inventory.command("list"))
    .description("certificates matching every filter given, soonest expiry first")
    .addOption(new Option("--sort <order>", "sort order").choices(["notAfter", "-notAfter", "subject"]))
    .option("--limit <n>", "page size, at most 1000 (default 100)")
    .option("--cursor <cursor>", "continue after the page that printed this cursor")
    .option("--all", "every page, not just the first")
    .option("--facets", "also print counts per key type, algorithm, source, issuer and expiry")
    .option("--json", "JSON: { value: [...], next?, facets? }")
    .option("--csv", "CSV (RFC 4180) with a header line")
    .action((o: ListFlags, command: Command) =>
      withCore(command, async (core) => {
        const { all, facets, json, csv, ...filters } = o;
        if (json && csv) throw badParameter("Choose one of --json and --csv");
        const query = inventoryQuery(filters);
        const items: ReturnType<typeof inventoryItem>[] = [];
        let cursor = query.cursor;
        let next: string | undefined;
        if (csv) process.stdout.write(csvHeader());
        do {
          const page = await core.inventory.list({ ...query, cursor });
          for (const r of page.items) {
            if (csv) process.stdout.write(csvLine(r));
            else if (json) items.push(inventoryItem(r));
            else console.log(line(r));
          }
          next = page.next;
          cursor = next;
        } while (all && next);
        const counts = facets ? await core.inventory.facets({ ...query, cursor: undefined }) : undefined;
        if (json) {
          console.log(
            JSON.stringify(
              { value: items, ...(next && { next }), ...(counts && { facets: counts }) },
              null,
              2,
            ),
          );
          return;
        }
        if (counts && !csv) {
          console.log(
            `\n${counts.total} certificates; expired ${counts.expiry.expired}, expiring within 30 days ${counts.expiry.within30Days}, within 90 days ${counts.expiry.within90Days}`,
          );
          for (const facet of ["keyType", "signatureAlgorithm", "source", "issuer"] as const)
            console.log(`${facet}: ${counts[facet].map((c) => `${c.value} ${c.count}`).join(", ")}`);
        }
        if (next) console.error(`more: --cursor ${next}`);
      }),
    );

  inventory
    .command("show")
    .argument("<sha256>", "the certificate's SHA-256 fingerprint (hex, colons allowed)")
    .option("--json", "the record as the admin API returns it")
    .description("one certificate: its facts, chain link, owner and every location")
    .action((fingerprint: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const r = await core.inventory.show(fingerprint);
        if (o.json) {
          console.log(JSON.stringify(inventoryItem(r), null, 2));
          return;
        }
        const rows: [string, string | undefined][] = [
          ["fingerprint", r.fingerprintSha256],
          ["subject", r.subject],
          ["issuer", r.issuer],
          ["issuer record", r.issuerFingerprintSha256],
          ["serial", r.serialNumber],
          ["valid", `${r.notBefore.toISOString()} to ${r.notAfter.toISOString()}`],
          ["key", keyTypeLabel(r)],
          ["signature", r.signatureAlgorithm],
          ["SANs", r.sans.map((s) => `${s.type}:${s.value}`).join(", ") || undefined],
          ["self-signed", String(r.selfSigned)],
          [
            "owner",
            r.owner &&
              `${[r.owner.team, r.owner.application, r.owner.contact].filter(Boolean).join(" / ")} (from ${r.owner.origin})`,
          ],
        ];
        for (const [name, value] of rows)
          if (value !== undefined) console.log(`${`${name}:`.padEnd(15)}${value}`);
        for (const l of r.locations)
          console.log(
            `location:      ${l.uri}  ${l.source}  first ${l.firstSeenAt.toISOString()}  last ${l.lastSeenAt.toISOString()}${l.goneAt ? `  gone ${l.goneAt.toISOString()}` : ""}`,
          );
      }),
    );

  inventory
    .command("owner")
    .argument("<sha256>")
    .option("--team <team>")
    .option("--application <application>")
    .option("--contact <contact>")
    .description("set the certificate's owner, kept over vault tags; with no option given, clear it")
    .action(
      (fingerprint: string, o: { team?: string; application?: string; contact?: string }, command: Command) =>
        withCore(command, async (core) => {
          const r = await core.inventory.setOwner(fingerprint, o);
          console.log(
            r.owner ? `owner: ${JSON.stringify({ ...r.owner, origin: undefined })}` : "owner cleared",
          );
        }),
    );
}
