import { BlockList, isIPv4 } from "node:net";
import type { VaultAccessSettings } from "../../domain/access/model.js";

const firewalls = new WeakMap<VaultAccessSettings, BlockList>();

/** The vault's allowed ranges as a BlockList, built once per settings object. */
function allowList(settings: VaultAccessSettings): BlockList {
  let list = firewalls.get(settings);
  if (!list) {
    list = new BlockList();
    for (const rule of settings.ipRules) {
      const [address = "", prefix] = rule.split("/");
      if (prefix === undefined) list.addAddress(address, "ipv4");
      else list.addSubnet(address, Number(prefix), "ipv4");
    }
    firewalls.set(settings, list);
  }
  return list;
}

/**
 * Whether a vault's IP rules keep this client out: a vault with rules admits only the addresses they
 * name, on the Key Vault data plane and on the dashboard's view of the same objects alike.
 */
export function outsideFirewall(settings: VaultAccessSettings, ip: string): boolean {
  if (settings.ipRules.length === 0) return false;
  const address = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return !(isIPv4(address) && allowList(settings).check(address, "ipv4"));
}
