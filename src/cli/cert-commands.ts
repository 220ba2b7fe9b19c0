import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { toPem } from "../crypto/pem.js";
import type {
  CertificateOperation,
  CertificatePolicy,
  CertificateVersion,
  DeletedCertificate,
} from "../domain/certificates/model.js";
import type { PolicyInput } from "../domain/certificates/policy.js";
import { DomainError } from "../domain/errors.js";
import type { Vault } from "../domain/vaults/model.js";
import type { Core } from "../main.js";
import { jsonOption, printJson, vaultOption, wholeNumber, withCore } from "./program.js";

/** What `cert list` and `cert show` print for one version; the JSON of `--json` too. */
function certificateSummary(c: CertificateVersion, vault: Vault) {
  const x509 = new X509Certificate(c.cer);
  return {
    vault: vault.name,
    name: c.name,
    version: c.version,
    enabled: c.enabled,
    subject: x509.subject.replaceAll("\n", ", "),
    issuer: x509.issuer.replaceAll("\n", ", "),
    serialNumber: x509.serialNumber.toLowerCase(),
    subjectAlternativeNames: x509.subjectAltName?.split(", ") ?? [],
    thumbprint: c.thumbprint.toString("hex").toUpperCase(),
    notBefore: new Date(x509.validFrom),
    expires: new Date(x509.validTo),
    chainLength: c.chain.length,
    chainComplete: c.chainVerdict.complete,
    contentType: c.contentType,
    revoked: c.revocation ?? null,
    tags: c.tags,
    createdAt: c.createdAt,
  };
}

/** A listing's entry: listings carry attributes, not the certificate's DER (as in Key Vault). */
const listedSummary = (c: CertificateVersion, vault: Vault) => ({
  vault: vault.name,
  name: c.name,
  version: c.version,
  enabled: c.enabled,
  thumbprint: c.thumbprint.toString("hex").toUpperCase(),
  notBefore: c.notBefore ?? null,
  expires: c.expiresAt ?? null,
  tags: c.tags,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

function policySummary(p: CertificatePolicy) {
  return {
    issuer: p.issuer.name,
    subject: p.subject,
    sans: p.sans,
    key: p.key,
    validityMonths: p.validityMonths,
    contentType: p.contentType,
    ekus: p.ekus,
    keyUsage: p.keyUsage,
    lifetimeActions: p.lifetimeActions,
  };
}

function printCertificate(s: ReturnType<typeof certificateSummary>, p: CertificatePolicy) {
  console.log(
    [
      `name:         ${s.name}`,
      `version:      ${s.version}`,
      `vault:        ${s.vault}`,
      `enabled:      ${s.enabled ? "yes" : "no"}`,
      `subject:      ${s.subject}`,
      `names:        ${s.subjectAlternativeNames.join(", ") || "none"}`,
      `issuer:       ${s.issuer} (issuer object ${p.issuer.name})`,
      `serial:       ${s.serialNumber}`,
      `thumbprint:   ${s.thumbprint}`,
      `valid:        ${s.notBefore.toISOString()} to ${s.expires.toISOString()}`,
      `chain:        ${s.chainLength} above the leaf, ${s.chainComplete ? "complete" : "incomplete"}`,
      `key:          ${p.key.kty} ${p.key.keySize ?? p.key.curve ?? ""}, ${p.key.exportable ? "exportable" : "not exportable"}`,
      `content type: ${s.contentType}`,
      ...(s.revoked ? [`revoked:      ${s.revoked.reason} at ${s.revoked.revokedAt.toISOString()}`] : []),
    ].join("\n"),
  );
}

const certificateLine = (s: ReturnType<typeof listedSummary>) =>
  `${s.name}\t${s.version}\t${s.enabled ? "enabled" : "disabled"}\t${s.expires?.toISOString() ?? "-"}\t${s.thumbprint}`;

interface CreateFlags {
  vault: string;
  issuer: string;
  subject: string;
  dns?: string[];
  ip?: string[];
  email?: string[];
  validityMonths?: string;
  key?: string;
  keySize?: string;
  curve?: string;
  exportable: boolean;
  contentType: "pem" | "pfx";
  waitSeconds: string;
}

const CONTENT_TYPES = { pem: "application/x-pem-file", pfx: "application/x-pkcs12" } as const;

function policyFrom(o: CreateFlags): PolicyInput {
  return {
    issuer: { name: o.issuer },
    subject: o.subject,
    sans: {
      ...(o.dns && { dnsNames: o.dns }),
      ...(o.ip && { ipAddresses: o.ip }),
      ...(o.email && { emails: o.email }),
    },
    ...(o.validityMonths !== undefined && {
      validityMonths: wholeNumber(o.validityMonths, "--validity-months"),
    }),
    key: {
      ...(o.key !== undefined && { kty: o.key }),
      ...(o.keySize !== undefined && { keySize: wholeNumber(o.keySize, "--key-size") }),
      ...(o.curve !== undefined && { curve: o.curve }),
      exportable: o.exportable,
    },
    contentType: CONTENT_TYPES[o.contentType],
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Drives a new version's operation to its end the way the server's pending-issuance job does
 * (the command may run with no server up), printing each change of state on standard error.
 */
async function waitForOperation(
  core: Core,
  vault: Vault,
  first: CertificateOperation,
  waitMs: number,
): Promise<CertificateOperation> {
  const startedAt = Date.now();
  let operation = first;
  let said = "";
  const say = (line: string) => {
    if (line !== said) console.error(line);
    said = line;
  };
  while (operation.status === "inProgress") {
    if (operation.issuerName.toLowerCase() === "unknown") return operation;
    const seconds = Math.round((Date.now() - startedAt) / 1000);
    say(
      `${operation.name}: waiting for issuer ${operation.issuerName} (${operation.statusDetails ?? "in progress"})`,
    );
    if (Date.now() - startedAt >= waitMs)
      throw new DomainError(
        "Unavailable",
        `${operation.name} is still pending at issuer ${operation.issuerName} after ${seconds}s; a running server's pending-issuance job finishes it, or run \`strongroom jobs run pending-issuance\` later`,
      );
    await sleep(Math.min(1000 * 2 ** Math.floor(seconds / 10), 5000));
    operation =
      (await core.certificates.advance(vault, operation.name)) ??
      (await core.certificates.getOperation(vault, operation.name));
  }
  return operation;
}

/** `strongroom cert`: vault certificates over the same service as Key Vault's certificate API. */
export function registerCertCommands(program: Command): void {
  const cert = program
    .command("cert")
    .description("create, import, list, show, download and delete a vault's certificates");

  vaultOption(
    cert
      .command("create")
      .argument("<name>", "certificate name: letters, digits and hyphens")
      .requiredOption("--subject <dn>", 'subject, e.g. "CN=www.example.com, O=Example"'),
  )
    .option("--issuer <issuer>", "issuer object (`strongroom issuer list`), Self or Unknown", "Self")
    .option("--dns <name...>", "DNS names (subject alternative names)")
    .option("--ip <address...>", "IP addresses (subject alternative names)")
    .option("--email <address...>", "e-mail addresses (subject alternative names)")
    .option("--validity-months <months>", "validity (default 12)")
    .addOption(
      new Option("--key <type>", "key type (default RSA)").choices(["RSA", "RSA-HSM", "EC", "EC-HSM"]),
    )
    .option("--key-size <bits>", "RSA: 2048, 3072 or 4096")
    .addOption(new Option("--curve <curve>", "EC curve").choices(["P-256", "P-384", "P-521", "P-256K"]))
    .option("--no-exportable", "keep the private key in the vault: downloads carry the certificate only")
    .addOption(
      new Option("--content-type <format>", "how the certificate's secret stores it")
        .choices(["pem", "pfx"])
        .default("pfx"),
    )
    .option("--wait-seconds <seconds>", "how long to wait for the issuer", "300")
    .description("create a certificate (a new version if it exists) and wait until its issuer signs it")
    .action((name: string, o: CreateFlags, command: Command) =>
      withCore(command, async (core) => {
        const vault = await core.vaults.get(o.vault);
        const waitMs = (wholeNumber(o.waitSeconds, "--wait-seconds") ?? 300) * 1000;
        console.error(`${name}: requesting a certificate from issuer ${o.issuer}`);
        const started = await core.certificates.create(vault, name, { policy: policyFrom(o) });
        const operation = await waitForOperation(core, vault, started, waitMs);
        if (operation.status === "inProgress") {
          process.stdout.write(toPem("CERTIFICATE REQUEST", operation.csr));
          console.error(
            `${name}: pending; have the CSR above signed, then merge the certificate through the Key Vault API (merge_certificate)`,
          );
          return;
        }
        if (operation.status !== "completed")
          throw new DomainError(
            "BadParameter",
            `${name}: issuer ${operation.issuerName} did not issue (${operation.status}): ${operation.error?.message ?? operation.statusDetails ?? "no reason given"}`,
          );
        const issued = await core.certificates.get(vault, name, operation.targetVersion);
        console.error(`${name}: issued version ${issued.version}`);
        printCertificate(certificateSummary(issued, vault), await core.certificates.getPolicy(vault, name));
      }),
    );

  vaultOption(
    cert
      .command("import")
      .argument("<name>")
      .requiredOption("--file <file>", "PEM (key and certificates) or PFX/PKCS#12"),
  )
    .option("--password <password>", "the PFX's password")
    .option("--no-exportable", "refuse later downloads of the key")
    .description("import a certificate with its private key")
    .action(
      (
        name: string,
        o: { vault: string; file: string; password?: string; exportable: boolean },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const vault = await core.vaults.get(o.vault);
          const bytes = readFileSync(o.file);
          const text = bytes.toString("utf8");
          const pem = text.includes("-----BEGIN");
          const imported = await core.certificates.import(vault, name, {
            value: pem ? text : bytes.toString("base64"),
            password: o.password,
            policy: {
              contentType: pem ? CONTENT_TYPES.pem : CONTENT_TYPES.pfx,
              ...(!o.exportable && { key: { exportable: false } }),
            },
          });
          printCertificate(
            certificateSummary(imported, vault),
            await core.certificates.getPolicy(vault, name),
          );
        }),
    );

  jsonOption(vaultOption(cert.command("list")))
    .option("--include-pending", "also those waiting for their first version")
    .description("list certificates: name, version, state, expiry, SHA-1 thumbprint")
    .action((o: { vault: string; json?: boolean; includePending?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const vault = await core.vaults.get(o.vault);
        const certificates: ReturnType<typeof listedSummary>[] = [];
        const pending: { name: string; issuer: string; status: string; createdAt: Date }[] = [];
        let after: string | undefined;
        do {
          const page = await core.certificates.listWithPending(vault, after, undefined);
          for (const entry of page.items) {
            if ("certificate" in entry) certificates.push(listedSummary(entry.certificate, vault));
            else if (o.includePending)
              pending.push({
                name: entry.pending.name,
                issuer: entry.pending.issuerName,
                status: entry.pending.status,
                createdAt: entry.pending.createdAt,
              });
          }
          after = page.next;
        } while (after !== undefined);
        if (o.json) return printJson(o.includePending ? { certificates, pending } : certificates);
        for (const c of certificates) console.log(certificateLine(c));
        for (const p of pending) console.log(`${p.name}\t-\tpending\t-\tissuer ${p.issuer}`);
      }),
    );

  jsonOption(vaultOption(cert.command("show").argument("<name>")))
    .option("--version <version>", "an older version (default: the latest)")
    .option("--pem", "print the certificate and its chain as PEM instead")
    .description("show a certificate with its policy")
    .action(
      (
        name: string,
        o: { vault: string; version?: string; json?: boolean; pem?: boolean },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const vault = await core.vaults.get(o.vault);
          const found = await core.certificates.get(vault, name, o.version);
          if (o.pem) {
            for (const der of [found.cer, ...found.chain]) process.stdout.write(toPem("CERTIFICATE", der));
            return;
          }
          const policy = await core.certificates.getPolicy(vault, name);
          const summary = certificateSummary(found, vault);
          if (o.json) return printJson({ ...summary, policy: policySummary(policy) });
          printCertificate(summary, policy);
        }),
    );

  vaultOption(
    cert
      .command("download")
      .argument("<name>")
      .requiredOption("-o, --output <file>", "where to write it (mode 0600 when it holds the key)"),
  )
    .addOption(new Option("--format <format>", "file format").choices(["pem", "pfx"]).default("pem"))
    .option("--with-key", "include the private key (only when the policy keeps it exportable)")
    .option("--version <version>", "an older version (default: the latest)")
    .description("write a certificate and its chain, with or without its private key, as PEM or PFX")
    .action(
      (
        name: string,
        o: { vault: string; output: string; format: "pem" | "pfx"; withKey?: boolean; version?: string },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const vault = await core.vaults.get(o.vault);
          const found = await core.certificates.get(vault, name, o.version);
          const file = await core.secretFormats.certificateFile(
            vault,
            name,
            found.version,
            o.format,
            o.withKey === true,
          );
          writeFileSync(o.output, file, { mode: o.withKey ? 0o600 : 0o644 });
          console.error(
            `Wrote ${name} version ${found.version} (${o.format.toUpperCase()}, ${o.withKey ? "with its private key" : "certificates only"}) to ${o.output}`,
          );
        }),
    );

  vaultOption(cert.command("delete").argument("<name>"))
    .description("delete a certificate with its key and secret (recoverable until its purge date)")
    .action((name: string, o: { vault: string }, command: Command) =>
      withCore(command, async (core) => {
        const vault = await core.vaults.get(o.vault);
        const deleted: DeletedCertificate = await core.certificates.remove(vault, name);
        console.log(`Certificate ${name} deleted; purged on ${deleted.scheduledPurgeAt.toISOString()}`);
      }),
    );
}
