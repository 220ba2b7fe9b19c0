import { randomBytes } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import type { CryptographyClientOptions } from "@azure/keyvault-keys";
import { adminPost } from "./https-client.js";
import type { ServerProcess } from "./server-process.js";

/**
 * What an application passes to the official SDK clients to reach a Strongroom process: a
 * ClientSecretCredential against its token endpoint, and the bootstrap CA through the SDK's own TLS
 * options (never by turning verification off).
 */
export function sdkOptions(server: ServerProcess) {
  const tlsOptions = { ca: server.ca };
  const credential = new ClientSecretCredential(
    server.admin.tenantId,
    server.admin.clientId,
    server.admin.clientSecret,
    {
      authorityHost: server.admin.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions,
    },
  );
  return { credential, clientOptions: { disableChallengeResourceVerification: true, tlsOptions } };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const KEYS = "Microsoft.KeyVault/vaults/keys";

/**
 * The credential of a new principal that may encrypt, decrypt, wrap and unwrap with the vault's
 * keys but not read them. Refused its first GET with 403, the SDK's CryptographyClient does every
 * operation on the server, RSA encrypt and wrapKey included (keyvault-api.md §2, Keys).
 */
export async function keyUserWithoutRead(server: ServerProcess, vault: string) {
  const role = `Key user without read ${randomBytes(4).toString("hex")}`;
  await adminPost(server, "/admin/roles", {
    name: role,
    dataActions: ["encrypt", "decrypt", "wrap", "unwrap"].map((a) => `${KEYS}/${a}/action`),
  });
  const principal = await adminPost(server, "/admin/principals", { displayName: role });
  await adminPost(server, "/admin/roleassignments", {
    principalId: principal.id,
    role,
    scope: `/vaults/${vault}`,
  });
  return new ClientSecretCredential(
    server.admin.tenantId,
    String(principal.clientId),
    String(principal.clientSecret),
    {
      authorityHost: server.admin.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: server.ca },
    },
  );
}

/** Notes `METHOD /path status` for every request an SDK client sends, to show what went over the wire. */
export function requestLog() {
  const seen: string[] = [];
  const policy: NonNullable<CryptographyClientOptions["additionalPolicies"]>[number] = {
    position: "perCall",
    policy: {
      name: "strongroom-test-request-log",
      async sendRequest(request, next) {
        const response = await next(request);
        seen.push(`${request.method} ${new URL(request.url).pathname} ${response.status}`);
        return response;
      },
    },
  };
  return { seen, policy };
}
