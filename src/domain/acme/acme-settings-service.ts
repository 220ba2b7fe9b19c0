import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import type { Vault } from "../vaults/model.js";
import type { AcmeIssuerSettings, ChallengeSettings } from "./model.js";
import type { AcmeStore } from "./ports.js";

export interface AcmeSettingsInput {
  directoryUrl: string;
  /** E-mail addresses or mailto: URLs. */
  contacts?: string[] | undefined;
  challenge?: "http-01" | "dns-01" | undefined;
  solver?: "responder" | "webroot" | "hook" | "webhook" | undefined;
  webroot?: string | undefined;
  command?: string | undefined;
  webhookUrl?: string | undefined;
}

export type AcmeSettingsService = ReturnType<typeof createAcmeSettingsService>;

const isHttpUrl = (value: string, schemes: string[]) => {
  try {
    return schemes.includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

function contactUrl(contact: string): string {
  const email = contact.replace(/^mailto:/i, "");
  if (!/^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/.test(email))
    throw badParameter(`"${contact}" is not an e-mail address`);
  return `mailto:${email}`;
}

function challengeFrom(input: AcmeSettingsInput): ChallengeSettings {
  const type = input.challenge ?? "http-01";
  const solver = input.solver ?? (type === "http-01" ? "responder" : undefined);
  const extras = { webroot: input.webroot, command: input.command, webhookUrl: input.webhookUrl };
  const needs = (field: keyof typeof extras) => {
    const value = extras[field];
    if (!value) throw badParameter(`the ${solver} solver needs ${field}`);
    for (const [other, set] of Object.entries(extras))
      if (other !== field && set) throw badParameter(`${other} does not apply to the ${solver} solver`);
    return value;
  };
  if (type === "http-01" && solver === "responder") {
    for (const [field, set] of Object.entries(extras))
      if (set) throw badParameter(`${field} does not apply to the responder solver`);
    return { type, solver };
  }
  if (type === "http-01" && solver === "webroot") return { type, solver, webroot: needs("webroot") };
  if (solver === "hook") return { type, solver, command: needs("command") };
  if (type === "dns-01" && solver === "webhook") {
    const url = needs("webhookUrl");
    if (!isHttpUrl(url, ["https:", "http:"])) throw badParameter(`webhookUrl "${url}" is not an http(s) URL`);
    return { type, solver, webhookUrl: url };
  }
  throw badParameter(
    `challenge ${type} cannot use solver ${solver ?? "(none)"}: http-01 takes responder, webroot or hook; dns-01 takes hook or webhook`,
  );
}

/** ACME settings of Key Vault issuer objects: the directory, the account contacts and how to solve challenges. */
export function createAcmeSettingsService({
  store,
  clock,
}: {
  store: Pick<AcmeStore, "getSettings" | "listSettings" | "putSettings" | "deleteSettings">;
  clock: Clock;
}) {
  const notFound = (name: string) =>
    new DomainError("NotFound", `Issuer ${name} has no ACME settings`, { reason: "AcmeSettingsNotFound" });
  return {
    async put(vault: Vault, issuerName: string, input: AcmeSettingsInput): Promise<AcmeIssuerSettings> {
      if (!/^[0-9a-zA-Z-]{1,127}$/.test(issuerName))
        throw badParameter(`"${issuerName}" is not a valid issuer name`);
      // RFC 8555 §6.1: ACME runs over HTTPS only.
      if (!isHttpUrl(input.directoryUrl, ["https:"]))
        throw badParameter(`directoryUrl "${input.directoryUrl}" is not an https URL`);
      const existing = await store.getSettings(vault.id, issuerName);
      const now = clock.now();
      const settings: AcmeIssuerSettings = {
        vaultId: vault.id,
        issuerName,
        directoryUrl: input.directoryUrl,
        contacts: (input.contacts ?? []).map(contactUrl),
        challenge: challengeFrom(input),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await store.putSettings(settings);
      return settings;
    },
    async get(vault: Vault, issuerName: string): Promise<AcmeIssuerSettings> {
      const settings = await store.getSettings(vault.id, issuerName);
      if (!settings) throw notFound(issuerName);
      return settings;
    },
    list: (vault: Vault) => store.listSettings(vault.id),
    async remove(vault: Vault, issuerName: string): Promise<void> {
      if (!(await store.deleteSettings(vault.id, issuerName))) throw notFound(issuerName);
    },
  };
}
