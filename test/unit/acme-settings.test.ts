import { describe, expect, it } from "vitest";
import {
  type AcmeSettingsInput,
  createAcmeSettingsService,
} from "../../src/domain/acme/acme-settings-service.js";
import type { AcmeIssuerSettings } from "../../src/domain/acme/model.js";
import { DomainError } from "../../src/domain/errors.js";
import type { Vault } from "../../src/domain/vaults/model.js";

function memoryStore() {
  const rows = new Map<string, AcmeIssuerSettings>();
  const key = (vaultId: string, name: string) => `${vaultId}/${name.toLowerCase()}`;
  return {
    getSettings: async (vaultId: string, name: string) => rows.get(key(vaultId, name)),
    listSettings: async (vaultId: string) => [...rows.values()].filter((s) => s.vaultId === vaultId),
    putSettings: async (s: AcmeIssuerSettings) => {
      rows.set(key(s.vaultId, s.issuerName), s);
    },
    deleteSettings: async (vaultId: string, name: string) => rows.delete(key(vaultId, name)),
  };
}

const vault = { id: "v1", name: "default" } as Vault;
const directoryUrl = "https://acme.example/directory";
const service = () =>
  createAcmeSettingsService({ store: memoryStore(), clock: { now: () => new Date("2026-01-01T00:00:00Z") } });

describe("ACME issuer settings", () => {
  it("defaults to http-01 answered by the challenge responder and turns e-mails into mailto: URLs", async () => {
    const settings = await service().put(vault, "le", { directoryUrl, contacts: ["ops@example.com"] });
    expect(settings.challenge).toEqual({ type: "http-01", solver: "responder" });
    expect(settings.contacts).toEqual(["mailto:ops@example.com"]);
  });

  it.each<[string, Partial<AcmeSettingsInput>, unknown]>([
    [
      "webroot",
      { solver: "webroot", webroot: "/srv/www" },
      { type: "http-01", solver: "webroot", webroot: "/srv/www" },
    ],
    [
      "an http-01 hook",
      { solver: "hook", command: "/bin/deploy" },
      { type: "http-01", solver: "hook", command: "/bin/deploy" },
    ],
    [
      "a dns-01 hook",
      { challenge: "dns-01", solver: "hook", command: "/bin/dns" },
      { type: "dns-01", solver: "hook", command: "/bin/dns" },
    ],
    [
      "a dns-01 webhook",
      { challenge: "dns-01", solver: "webhook", webhookUrl: "https://dns.example/acme" },
      { type: "dns-01", solver: "webhook", webhookUrl: "https://dns.example/acme" },
    ],
  ])("accepts %s", async (_name, input, challenge) => {
    expect((await service().put(vault, "le", { directoryUrl, ...input })).challenge).toEqual(challenge);
  });

  it.each<[string, Partial<AcmeSettingsInput>, RegExp]>([
    ["a plain-HTTP directory", { directoryUrl: "http://acme.example/dir" }, /not an https URL/],
    ["a directory that is no URL", { directoryUrl: "acme.example" }, /not an https URL/],
    ["a contact that is no e-mail", { contacts: ["ops"] }, /not an e-mail address/],
    ["dns-01 without a solver", { challenge: "dns-01" }, /dns-01 takes hook or webhook/],
    ["dns-01 on the responder", { challenge: "dns-01", solver: "responder" }, /cannot use solver responder/],
    [
      "http-01 by webhook",
      { solver: "webhook", webhookUrl: "https://x.example" },
      /cannot use solver webhook/,
    ],
    ["a webroot without its directory", { solver: "webroot" }, /needs webroot/],
    [
      "a hook with a webroot too",
      { solver: "hook", command: "x", webroot: "/srv" },
      /webroot does not apply/,
    ],
    ["a responder with a command", { command: "x" }, /command does not apply to the responder/],
    [
      "a webhook that is no URL",
      { challenge: "dns-01", solver: "webhook", webhookUrl: "ftp://x" },
      /not an http\(s\) URL/,
    ],
  ])("refuses %s", async (_name, input, message) => {
    const attempt = service().put(vault, "le", { directoryUrl, ...input });
    await expect(attempt).rejects.toThrow(message);
    await expect(attempt).rejects.toBeInstanceOf(DomainError);
  });

  it("finds settings by issuer name in any case, and says NotFound when there are none", async () => {
    const s = service();
    await s.put(vault, "LetsEncrypt", { directoryUrl });
    expect((await s.get(vault, "letsencrypt")).issuerName).toBe("LetsEncrypt");
    await s.remove(vault, "LETSENCRYPT");
    await expect(s.get(vault, "letsencrypt")).rejects.toMatchObject({ code: "NotFound" });
  });
});
