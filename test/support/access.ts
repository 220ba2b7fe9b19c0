import type { InProcess } from "./in-process.js";

type Method = "GET" | "PUT" | "POST" | "PATCH" | "DELETE";

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies of many shapes
export type Json = any;

/** Calls the admin API as the installation's administrator. */
export async function adminCall(
  server: InProcess,
  method: Method,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await server.strongroom.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${await server.token()}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** A new service principal (or user) and its one-time client secret. */
export async function createPrincipal(
  server: InProcess,
  displayName: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; clientId: string; clientSecret: string }> {
  const res = await adminCall(server, "POST", "/admin/principals", { displayName, ...extra });
  if (res.status !== 201) throw new Error(`principal create failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function assignRole(server: InProcess, principalId: string, role: string, scope: string) {
  const res = await adminCall(server, "POST", "/admin/roleassignments", { principalId, role, scope });
  if (res.status !== 201) throw new Error(`assignment failed: ${JSON.stringify(res.body)}`);
  return res.body as { id: string };
}

/** A token request with a client secret, as @azure/identity sends it. */
export async function requestToken(server: InProcess, form: Record<string, string>) {
  const { app, admin } = server.strongroom;
  const res = await app.inject({
    method: "POST",
    url: `/${admin.tenantId}/oauth2/v2.0/token`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({
      grant_type: "client_credentials",
      scope: "https://localhost/.default",
      ...form,
    }).toString(),
  });
  return { status: res.statusCode, body: res.json() as Json };
}

export async function tokenFor(server: InProcess, clientId: string, clientSecret: string): Promise<string> {
  const res = await requestToken(server, { client_id: clientId, client_secret: clientSecret });
  if (res.status !== 200) throw new Error(`token request failed: ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/** A Key Vault request to the default vault with the given bearer token. */
export async function kvAs(
  server: InProcess,
  token: string,
  method: Method,
  url: string,
  options: { body?: unknown; host?: string; remoteAddress?: string } = {},
) {
  const res = await server.strongroom.app.inject({
    method,
    url,
    ...(options.remoteAddress && { remoteAddress: options.remoteAddress }),
    headers: {
      host: options.host ?? `localhost:${server.strongroom.port}`,
      authorization: `Bearer ${token}`,
      ...(options.body !== undefined && { "content-type": "application/json" }),
    },
    ...(options.body !== undefined && { payload: JSON.stringify(options.body) }),
  });
  return { status: res.statusCode, headers: res.headers, body: res.body ? (res.json() as Json) : undefined };
}
