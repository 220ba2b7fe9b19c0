import pino from "pino";
import { loadConfig } from "../../src/config/config.js";
import type { AuditRecord } from "../../src/domain/audit/model.js";
import type { Clock } from "../../src/domain/clock.js";
import type { IssuanceGate } from "../../src/domain/rules/issuance-gate.js";
import { type Strongroom, startStrongroom } from "../../src/main.js";
import { tempDataDir } from "./server-process.js";

/** A clock tests move by hand. */
export function fakeClock(start = new Date("2026-11-23T12:00:00Z")) {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  } satisfies Clock & { advance(ms: number): void };
}

export interface InProcess {
  strongroom: Strongroom;
  /** A bearer token for the admin principal. */
  token(): Promise<string>;
  /** `app.inject` with the default vault's Host and, unless `auth: false`, the admin's token. */
  kv(options: {
    method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
    url: string;
    body?: unknown;
    payload?: string | Buffer;
    headers?: Record<string, string>;
    auth?: boolean;
    // biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies of many shapes
  }): Promise<{ statusCode: number; headers: Record<string, unknown>; body: string; json: () => any }>;
  /**
   * A certificate create as Key Vault's SDKs make it: POST .../create, then GET .../pending while the
   * operation is in progress. The answer is the create's (status 202, headers), its body the
   * operation where polling stopped; an Unknown issuer's operation stays in progress until a merge.
   */
  createCertificate(name: string, body: unknown): ReturnType<InProcess["kv"]>;
  stop(): Promise<void>;
}

/** The whole server in this process on port 0, for app.inject() tests. */
export async function startInProcess(
  options: {
    clock?: Clock;
    database?: string;
    dataDir?: string;
    flags?: Record<string, unknown>;
    gate?: IssuanceGate;
  } = {},
): Promise<InProcess> {
  const data = options.dataDir ? undefined : tempDataDir();
  const config = loadConfig({
    env: {},
    cwd: options.dataDir ?? data?.dir ?? ".",
    flags: {
      dataDir: options.dataDir ?? data?.dir,
      port: 0,
      pkiPort: 0,
      logLevel: "silent",
      ...(options.database && { database: options.database }),
      ...options.flags,
    },
  });
  const strongroom = await startStrongroom(config, {
    logger: pino({ level: "silent" }),
    ...(options.clock && { clock: options.clock }),
    ...(options.gate && { gate: options.gate }),
  });
  const { app, admin, port } = strongroom;
  const host = `localhost:${port}`;
  let cached: string | undefined;
  let cachedAt = 0;

  async function token(): Promise<string> {
    const res = await app.inject({
      method: "POST",
      url: `/${admin.tenantId}/oauth2/v2.0/token`,
      headers: { host, "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: admin.clientId,
        client_secret: admin.clientSecret,
        scope: "https://localhost/.default",
      }).toString(),
    });
    if (res.statusCode !== 200) throw new Error(`token request failed: ${res.body}`);
    return res.json().access_token as string;
  }

  const api: InProcess = {
    strongroom,
    token,
    async kv({ method, url, body, payload, headers = {}, auth = true }) {
      // Tokens last an hour of the server's clock, which tests may move: renew after half of it.
      const now = (options.clock ?? { now: () => new Date() }).now().getTime();
      if (auth && (cached === undefined || now - cachedAt > 1_800_000)) {
        cached = await token();
        cachedAt = now;
      }
      const res = await app.inject({
        method,
        url,
        headers: {
          host,
          ...(auth && { authorization: `Bearer ${cached}` }),
          ...(body !== undefined || payload !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(payload !== undefined
          ? { payload }
          : body !== undefined
            ? { payload: JSON.stringify(body) }
            : {}),
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() };
    },
    async createCertificate(name, body) {
      const created = await api.kv({
        method: "POST",
        url: `/certificates/${name}/create?api-version=7.6`,
        body,
      });
      if (created.statusCode !== 202) return created;
      let operation = created.json();
      // An issuer that refuses at once (ACME without settings) fails the operation in the create's
      // answer; none completes there.
      if (operation.status === "completed")
        throw new Error("create answered completed; Key Vault answers inProgress");
      const issuer = String(operation.issuer?.name ?? "").toLowerCase();
      for (let polls = 0; operation.status === "inProgress" && issuer !== "unknown" && polls < 50; polls++) {
        const res = await api.kv({ method: "GET", url: `/certificates/${name}/pending?api-version=7.6` });
        if (res.statusCode !== 200) throw new Error(`polling ${name}: ${res.statusCode} ${res.body}`);
        operation = res.json();
      }
      return { ...created, body: JSON.stringify(operation), json: () => operation };
    },
    async stop() {
      await strongroom.stop();
      data?.remove();
    },
  };
  return api;
}

/** Every audit row the server has written, oldest first, once the writes in flight have landed. */
export async function auditRows(server: InProcess): Promise<AuditRecord[]> {
  const { audit } = server.strongroom.core;
  await audit.drain();
  const rows: AuditRecord[] = [];
  for await (const row of audit.records()) rows.push(row);
  return rows;
}
