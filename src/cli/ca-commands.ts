import { readFileSync, writeFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { fromPem, toPem } from "../crypto/pem.js";
import { type CaService, parseReason } from "../domain/ca/ca-service.js";
import {
  CA_KEY_ALGORITHMS,
  type CertificateAuthority,
  FULL_CRL,
  type IssuedCertificate,
} from "../domain/ca/model.js";
import { sleep } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import type { Core } from "../main.js";
import { cliPrincipal } from "./cli-audit.js";
import { jsonOption, wholeNumber as number, printJson, withCore } from "./program.js";

const caOptions = (c: Command) =>
  c
    .requiredOption("--subject <dn>", 'distinguished name, e.g. "CN=Example Root CA, O=Example"')
    .addOption(new Option("--key <algorithm>", "key type (default EC-P256)").choices([...CA_KEY_ALGORITHMS]))
    .option("--hsm", "generate and keep the key in the HSM (pkcs11 settings)")
    .option("--validity-days <days>", "validity of the CA certificate (default 3650)")
    .option("--path-length <n>", "how many intermediate CAs may follow below this one")
    .option("--crl-shards <n>", "spread revocations over this many CRLs (default 1)")
    .option("--policy <oid...>", "certificate policy OIDs for the CA and what it issues")
    .option("--permit-dns <name...>", "permitted DNS subtrees (name constraints)")
    .option("--exclude-dns <name...>", "excluded DNS subtrees")
    .option("--permit-ip <cidr...>", "permitted IP ranges")
    .option("--exclude-ip <cidr...>", "excluded IP ranges")
    .option("--permit-email <value...>", "permitted e-mail boxes or domains")
    .option("--exclude-email <value...>", "excluded e-mail boxes or domains")
    .option("--permit-uri <host...>", "permitted URI hosts")
    .option("--exclude-uri <host...>", "excluded URI hosts");

interface CaFlags {
  subject: string;
  key?: string;
  hsm?: boolean;
  validityDays?: string;
  pathLength?: string;
  crlShards?: string;
  policy?: string[];
  permitDns?: string[];
  excludeDns?: string[];
  permitIp?: string[];
  excludeIp?: string[];
  permitEmail?: string[];
  excludeEmail?: string[];
  permitUri?: string[];
  excludeUri?: string[];
}

function caInput(name: string, o: CaFlags) {
  const constrained = [
    o.permitDns,
    o.excludeDns,
    o.permitIp,
    o.excludeIp,
    o.permitEmail,
    o.excludeEmail,
    o.permitUri,
    o.excludeUri,
  ].some((list) => list && list.length > 0);
  return {
    name,
    subject: o.subject,
    keyAlgorithm: o.key as CertificateAuthority["keyAlgorithm"] | undefined,
    protection: o.hsm ? ("hsm" as const) : ("software" as const),
    validityDays: number(o.validityDays, "--validity-days"),
    pathLength: number(o.pathLength, "--path-length"),
    crlShards: number(o.crlShards, "--crl-shards"),
    policies: o.policy,
    nameConstraints: constrained
      ? {
          permitted: {
            dns: o.permitDns ?? [],
            ip: o.permitIp ?? [],
            email: o.permitEmail ?? [],
            uri: o.permitUri ?? [],
          },
          excluded: {
            dns: o.excludeDns ?? [],
            ip: o.excludeIp ?? [],
            email: o.excludeEmail ?? [],
            uri: o.excludeUri ?? [],
          },
        }
      : undefined,
  };
}

function printCa(c: CertificateAuthority, urls: { crl: string; aia: string }) {
  console.log(
    [
      `name:           ${c.name}`,
      `id:             ${c.id}`,
      `kind:           ${c.kind}`,
      `status:         ${c.status}`,
      `subject:        ${c.subject}`,
      `key:            ${c.keyAlgorithm} (${c.protection})`,
      `path length:    ${c.pathLength ?? "unlimited"}`,
      `CRL shards:     ${c.crlShards}`,
      `expires:        ${c.notAfter?.toISOString() ?? "not signed yet"}`,
      `CA certificate: ${urls.aia}`,
      `full CRL:       ${urls.crl}`,
    ].join("\n"),
  );
}

const printIssued = (i: IssuedCertificate) =>
  console.log(
    `${i.serial}\t${i.status}${i.reason ? ` (${i.reason})` : ""}\t${i.notAfter.toISOString()}\t${i.subject}${
      i.vault ? `\t${i.vault.vaultName}/${i.vault.name}/${i.vault.version}` : ""
    }`,
  );

/** A CA as `--json` prints it: what `ca show` says, without key material or DER. */
const caDocument = (core: Core, c: CertificateAuthority) => ({
  id: c.id,
  name: c.name,
  kind: c.kind,
  status: c.status,
  parentId: c.parentId ?? null,
  subject: c.subject,
  keyAlgorithm: c.keyAlgorithm,
  protection: c.protection,
  pathLength: c.pathLength ?? null,
  nameConstraints: c.nameConstraints ?? null,
  policies: c.policies,
  crlShards: c.crlShards,
  notAfter: c.notAfter ?? null,
  certificateUrl: `${core.pkiBase.url}/pki/ca/${c.id}.crt`,
  crlUrl: `${core.pkiBase.url}/pki/crl/${c.id}.crl`,
  createdAt: c.createdAt,
});

const DEFAULT_WAIT_SECONDS = 3600;
const POLL_MS = 2000;

function writeSigned(result: { issued: IssuedCertificate; chain: Buffer[] }, output: string | undefined) {
  const pem = [result.issued.der, ...result.chain].map((c) => toPem("CERTIFICATE", c)).join("");
  if (output) writeFileSync(output, pem);
  else process.stdout.write(pem);
  console.error(`Issued serial ${result.issued.serial}`);
}

/**
 * Polls a held sign request until approvers decide: the certificate once approved; the refusal (with
 * the denier's reason) is thrown by heldSignature. Still pending after `wait` seconds is an error
 * that names the request, which `ca sign-request` fetches later.
 */
async function waitForDecision(ca: CaService, name: string, id: string, wait: string | boolean) {
  const seconds = wait === true ? DEFAULT_WAIT_SECONDS : number(wait as string, "--wait");
  const until = Date.now() + seconds * 1000;
  const never = new AbortController().signal;
  for (;;) {
    const result = await ca.heldSignature(name, id);
    if (!("held" in result)) return result;
    if (Date.now() >= until)
      throw new DomainError(
        "Unavailable",
        `Approval request ${id} is still pending after ${seconds} s; fetch it later with strongroom ca sign-request ${name} ${id}`,
      );
    await sleep(Math.min(POLL_MS, until - Date.now()), never);
  }
}

const issuedDocument = ({ der: _der, ...i }: IssuedCertificate) => i;

const showCa = (core: Core, c: CertificateAuthority) =>
  printCa(c, {
    aia: `${core.pkiBase.url}/pki/ca/${c.id}.crt`,
    crl: `${core.pkiBase.url}/pki/crl/${c.id}.crl`,
  });

interface TargetFlags {
  serial?: string;
  ca?: string;
  vault?: string;
  certificate?: string;
  version?: string;
}

const targetOptions = (c: Command) =>
  c
    .option("--serial <hex>", "the certificate's serial number")
    .option("--ca <name>", "the CA that issued it (when a serial is ambiguous)")
    .option("--vault <name>", "with --certificate and --version: a vault certificate version")
    .option("--certificate <name>", "vault certificate name")
    .option("--version <version>", "vault certificate version");

async function targetOf(service: CaService, core: Core, o: TargetFlags) {
  if (o.serial) return service.findIssued(o.serial, o.ca);
  if (o.vault && o.certificate && o.version) {
    const vault = await core.vaults.get(o.vault);
    return service.findIssuedForVersion(vault.id, o.certificate, o.version);
  }
  throw new DomainError("BadParameter", "Give --serial, or --vault with --certificate and --version");
}

/** `strongroom ca`: private certificate authorities. */
export function registerCaCommands(program: Command): void {
  const ca = program.command("ca").description("private certificate authorities: create, sign, revoke, CRLs");

  caOptions(ca.command("create-root").argument("<name>", "CA name, letters, digits and hyphens"))
    .description("create a self-signed root CA")
    .action((name: string, o: CaFlags, command: Command) =>
      withCore(command, async (core) => showCa(core, await core.ca.createRoot(caInput(name, o)))),
    );

  caOptions(ca.command("create-intermediate").argument("<name>"))
    .description("create an intermediate CA signed by a CA here (--parent) or by an external CA (--external)")
    .option("--parent <ca>", "the CA of this installation that signs it")
    .option("--external", "write a CSR for an external CA; then run `strongroom ca import`")
    .option("--csr-out <file>", "where to write the CSR with --external (default: standard output)")
    .action(
      (
        name: string,
        o: CaFlags & { parent?: string; external?: boolean; csrOut?: string },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const created = await core.ca.createIntermediate({
            ...caInput(name, o),
            parent: o.parent,
            external: o.external,
          });
          if (created.csr) {
            const pem = toPem("CERTIFICATE REQUEST", created.csr);
            if (o.csrOut) writeFileSync(o.csrOut, pem);
            else process.stdout.write(pem);
            console.error(
              `CA ${name} awaits its certificate: have the CSR signed, then run strongroom ca import ${name} --certificate <file>`,
            );
            return;
          }
          showCa(core, created);
        }),
    );

  ca.command("import")
    .argument("<name>")
    .requiredOption("--certificate <file>", "PEM: the CA's certificate, then the chain above it")
    .description("complete an externally signed intermediate with its certificate")
    .action((name: string, o: { certificate: string }, command: Command) =>
      withCore(command, async (core) =>
        showCa(core, await core.ca.importCertificate(name, fromPem(readFileSync(o.certificate, "utf8")))),
      ),
    );

  jsonOption(ca.command("list"))
    .description("list CAs: name, kind, status, key, protection, subject")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const all = await core.ca.list();
        if (o.json) return printJson(all.map((c) => caDocument(core, c)));
        for (const c of all)
          console.log(`${c.name}\t${c.kind}\t${c.status}\t${c.keyAlgorithm}\t${c.protection}\t${c.subject}`);
      }),
    );

  jsonOption(ca.command("show").argument("<name>"))
    .option("--pem", "print the CA certificate and its chain as PEM instead")
    .description("show one CA")
    .action((name: string, o: { pem?: boolean; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const c = await core.ca.get(name);
        if (o.json) return printJson(caDocument(core, c));
        if (!o.pem) return showCa(core, c);
        for (const der of [c.certificate, ...c.chain])
          if (der) process.stdout.write(toPem("CERTIFICATE", der));
      }),
    );

  ca.command("sign")
    .argument("<name>", "the issuing CA")
    .requiredOption("--csr <file>", "PKCS#10 request, PEM")
    .option("--validity-days <days>", "default 90")
    .option("-o, --output <file>", "write the certificate and chain (PEM) here instead of standard output")
    .option(
      "--wait [seconds]",
      `when an approval rule holds the request, wait this long for the decision (default ${DEFAULT_WAIT_SECONDS})`,
    )
    .description(
      "sign a CSR with its own subject and SANs, within the CA's constraints; a request the approval rules hold prints its request id (or waits with --wait)",
    )
    .action(
      (
        name: string,
        o: { csr: string; validityDays?: string; output?: string; wait?: string | boolean },
        command: Command,
      ) =>
        withCore(command, async (core) => {
          const [csr] = fromPem(readFileSync(o.csr, "utf8"));
          if (!csr) throw new DomainError("BadParameter", `${o.csr} holds no PEM certificate request`);
          const result = await core.ca.requestSignature(
            name,
            csr,
            { validityDays: number(o.validityDays, "--validity-days") },
            cliPrincipal(),
          );
          if ("held" in result) {
            const { held } = result;
            console.error(
              `Held for approval: request ${held.id} needs ${held.required} approval(s) because of ${held.because.join("; ")}`,
            );
            if (o.wait === undefined) {
              console.log(held.id);
              console.error(
                `Fetch the certificate once approved: strongroom ca sign-request ${name} ${held.id}`,
              );
              return;
            }
            return writeSigned(await waitForDecision(core.ca, name, held.id, o.wait), o.output);
          }
          writeSigned(result, o.output);
        }),
    );

  ca.command("sign-request")
    .argument("<name>", "the issuing CA")
    .argument("<id>", "the approval request id `ca sign` printed")
    .option("-o, --output <file>", "write the certificate and chain (PEM) here instead of standard output")
    .option("--wait [seconds]", `wait this long for the decision (default ${DEFAULT_WAIT_SECONDS})`)
    .description(
      "a sign request held for approval: the certificate once approved, the refusal once denied or expired",
    )
    .action((name: string, id: string, o: { output?: string; wait?: string | boolean }, command: Command) =>
      withCore(command, async (core) => {
        const result =
          o.wait === undefined
            ? await core.ca.heldSignature(name, id)
            : await waitForDecision(core.ca, name, id, o.wait);
        if ("held" in result) {
          console.log(`pending\t${result.held.id}\texpires ${result.held.expiresAt.toISOString()}`);
          process.exitCode = 3;
          return;
        }
        writeSigned(result, o.output);
      }),
    );

  jsonOption(ca.command("issued").argument("<name>"))
    .option("--limit <n>", "default 100")
    .option("--after <serial>", "continue after this serial")
    .description("list what a CA issued, with status")
    .action((name: string, o: { limit?: string; after?: string; json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const issued = await core.ca.listIssued(name, number(o.limit, "--limit"), o.after);
        if (o.json) return printJson(issued.map(issuedDocument));
        for (const i of issued) printIssued(i);
      }),
    );

  targetOptions(ca.command("revoke"))
    .option(
      "--reason <reason>",
      "RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise",
    )
    .description("revoke a certificate (certificateHold puts it on hold; `ca release` lifts a hold)")
    .action((o: TargetFlags & { reason?: string }, command: Command) =>
      withCore(command, async (core) =>
        printIssued(await core.ca.revoke(await targetOf(core.ca, core, o), parseReason(o.reason))),
      ),
    );

  targetOptions(ca.command("release"))
    .description("take a certificate off hold (removeFromCRL)")
    .action((o: TargetFlags, command: Command) =>
      withCore(command, async (core) => printIssued(await core.ca.release(await targetOf(core.ca, core, o)))),
    );

  ca.command("crl")
    .argument("<name>")
    .option("--shard <n>", "one shard's CRL instead of the full CRL")
    .option("--pem", "PEM instead of DER")
    .requiredOption("-o, --output <file>", "where to write the CRL")
    .description("write a CA's current CRL")
    .action((name: string, o: { shard?: string; pem?: boolean; output: string }, command: Command) =>
      withCore(command, async (core) => {
        const c = await core.ca.get(name);
        const crl = await core.crls.crl(c.id, number(o.shard, "--shard") ?? FULL_CRL);
        if (!crl) throw new DomainError("NotFound", `CA ${name} has no such CRL`);
        writeFileSync(o.output, o.pem ? toPem("X509 CRL", crl.der) : crl.der);
        console.error(`CRL number ${crl.number}, next update ${crl.nextUpdate.toISOString()}`);
      }),
    );
}
