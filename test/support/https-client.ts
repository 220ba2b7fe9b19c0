import { Agent, request } from "node:https";

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: <T = Record<string, unknown>>() => T;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sets the Host header, to address a vault by name without DNS. */
  host?: string;
}

/** A small HTTPS client that trusts exactly the given CA, for raw-wire tests. */
export function httpsClient(ca: string) {
  const agent = new Agent({ ca, keepAlive: true });
  return {
    send(url: string, options: HttpRequest = {}): Promise<HttpResponse> {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { ...options.headers };
        if (options.host) headers.host = options.host;
        const req = request(
          url,
          { method: options.method ?? "GET", headers, agent, servername: "localhost" },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                text,
                json: () => JSON.parse(text),
              });
            });
          },
        );
        req.on("error", reject);
        req.end(options.body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** A token for the installation's admin principal, by the client credentials grant. */
export async function adminToken(
  client: ReturnType<typeof httpsClient>,
  admin: { authorityHost: string; tenantId: string; clientId: string; clientSecret: string },
  resource = "https://localhost",
): Promise<string> {
  const res = await client.send(`${admin.authorityHost}/${admin.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: admin.clientId,
      client_secret: admin.clientSecret,
      scope: `${resource}/.default`,
    }).toString(),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.json<{ access_token: string }>().access_token;
}

/** POSTs JSON to the admin API as the installation's administrator; anything but 201 throws. */
export async function adminPost(
  server: { ca: string; admin: Parameters<typeof adminToken>[1] & { authorityHost: string } },
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const client = httpsClient(server.ca);
  try {
    const res = await client.send(`${server.admin.authorityHost}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await adminToken(client, server.admin)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`POST ${path} failed: ${res.status} ${res.text}`);
    return res.json();
  } finally {
    client.close();
  }
}
