import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { POSTGRES_ADMIN_URL, postgresAvailable } from "../support/postgres.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";

/** Sets a secret and returns the answer. */
async function setSecret(server: ServerProcess, token: string, name: string) {
  const http = httpsClient(server.ca);
  try {
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const put = await http.send(`${server.admin.vaultUrl}/secrets/${name}?${V}`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ value: "must not be stored unaudited" }),
    });
    return put;
  } finally {
    http.close();
  }
}

async function secretStatus(server: ServerProcess, token: string, name: string): Promise<number> {
  const http = httpsClient(server.ca);
  try {
    return (
      await http.send(`${server.admin.vaultUrl}/secrets/${name}?${V}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).status;
  } finally {
    http.close();
  }
}

function expectRefusedForAudit(res: Awaited<ReturnType<typeof setSecret>>) {
  expect(res.status).toBe(503);
  expect(res.headers["retry-after"]).toBe("5");
  expect(res.json()).toMatchObject({
    error: { code: "Unavailable", innererror: { code: "AuditLogUnavailable" } },
  });
}

describe("a change whose audit row cannot be written", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("is refused with 503 and Retry-After and leaves nothing stored while another process locks the SQLite audit file", async () => {
    const server = await startServerProcess(data.dir);
    try {
      const http = httpsClient(server.ca);
      const token = await adminToken(http, server.admin);
      http.close();
      const locker = new Database(join(data.dir, "strongroom.audit.db"));
      locker.exec("begin immediate");
      let refused: Awaited<ReturnType<typeof setSecret>>;
      try {
        refused = await setSecret(server, token, "while-locked");
      } finally {
        locker.exec("rollback");
        locker.close();
      }
      expectRefusedForAudit(refused);
      expect(await secretStatus(server, token, "while-locked")).toBe(404);
      // Once the log can be written again, the same change goes through.
      expect((await setSecret(server, token, "after-unlock")).status).toBe(200);
      expect(await secretStatus(server, token, "after-unlock")).toBe(200);
    } finally {
      await server.stop();
    }
    const verified = runCli(["audit", "verify", "--data-dir", data.dir]);
    expect(verified.stdout).toMatch(/Audit log intact/);
    expect(verified.code).toBe(0);
  }, 60_000);
});

describe.skipIf(!postgresAvailable)("a change on PostgreSQL whose role may not insert audit rows", () => {
  const data = tempDataDir();
  const suffix = randomBytes(5).toString("hex");
  const role = `strongroom_audit_${suffix}`;
  const database = `strongroom_audit_${suffix}`;
  const admin = () => new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  const asSuperuser = async (statement: string, db?: string) => {
    const url = new URL(POSTGRES_ADMIN_URL);
    if (db) url.pathname = `/${db}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };

  afterAll(async () => {
    data.remove();
    const client = admin();
    await client.connect();
    await client.query(`drop database if exists ${database} with (force)`);
    await client.query(`drop role if exists ${role}`);
    await client.end();
  });

  it("is refused with 503 and Retry-After and leaves nothing stored", async () => {
    await asSuperuser(`create role ${role} login`);
    await asSuperuser(`create database ${database} owner ${role}`);
    const url = new URL(POSTGRES_ADMIN_URL);
    url.username = role;
    url.pathname = `/${database}`;
    const server = await startServerProcess(data.dir, ["--database", url.toString()]);
    try {
      const http = httpsClient(server.ca);
      const token = await adminToken(http, server.admin);
      http.close();
      await asSuperuser(`revoke insert on audit_log from ${role}`, database);
      const refused = await setSecret(server, token, "revoked");
      expectRefusedForAudit(refused);
      await asSuperuser(`grant insert on audit_log to ${role}`, database);
      expect(await secretStatus(server, token, "revoked")).toBe(404);
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      const stored = await client.query("select count(*)::int as n from objects where name = 'revoked'");
      await client.end();
      expect(stored.rows[0]).toEqual({ n: 0 });
    } finally {
      await server.stop();
    }
  }, 60_000);
});
