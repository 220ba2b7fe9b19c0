import { describe, expect, it } from "vitest";
import { vaultNameForHost } from "../../src/http/keyvault/vault-host.js";

const rules = {
  dnsSuffix: "vault.example.com",
  publicHost: "strongroom.example.com",
  aliases: { "127.0.0.2": "team", "ops:9443": "ops" },
};

describe("choosing the vault from the Host header", () => {
  it.each([
    ["payments.vault.example.com:8443", "payments"],
    ["PAYMENTS.Vault.Example.com", "payments"],
    ["localhost:8443", "default"],
    ["127.0.0.1:8443", "default"],
    ["[::1]:8443", "default"],
    ["strongroom.example.com:8443", "default"],
    ["127.0.0.2:8443", "team"],
    ["ops:9443", "ops"],
    ["ops:8443", "default"],
  ])("serves %s from vault %s", (host, vault) => {
    expect(vaultNameForHost(host, rules)).toBe(vault);
  });

  it.each(["a.b.vault.example.com", "other.example.org:8443"])("serves no vault at %s", (host) => {
    expect(vaultNameForHost(host, rules)).toBeUndefined();
  });
});
