import { isIP } from "node:net";

export interface VaultHostRules {
  dnsSuffix: string;
  publicHost: string;
  /** "host" or "host:port" → vault name. */
  aliases: Readonly<Record<string, string>>;
}

/**
 * The vault a request addresses, from its Host header, as Key Vault does: `{vault}.{dnsSuffix}`, an
 * alias, or a bare host (IP literal, single label, the public host name) for `default`. Undefined when
 * the host is a name this server does not serve.
 */
export function vaultNameForHost(hostHeader: string, rules: VaultHostRules): string | undefined {
  const host = hostHeader.toLowerCase();
  const alias = rules.aliases[host];
  if (alias) return alias;
  const hostname = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  const byName = rules.aliases[hostname];
  if (byName) return byName;
  const suffix = `.${rules.dnsSuffix.toLowerCase()}`;
  if (hostname.endsWith(suffix)) {
    const label = hostname.slice(0, -suffix.length);
    return label.includes(".") ? undefined : label;
  }
  if (isIP(hostname) !== 0 || !hostname.includes(".") || hostname === rules.publicHost.toLowerCase()) {
    return "default";
  }
  return undefined;
}
