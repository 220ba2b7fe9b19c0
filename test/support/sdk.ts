import { ClientSecretCredential } from "@azure/identity";
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
