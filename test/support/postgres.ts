import { randomBytes } from "node:crypto";
import pg from "pg";
import { requireTool } from "./tools.js";

export const POSTGRES_ADMIN_URL =
  process.env.STRONGROOM_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

async function canConnect(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const postgresAvailable = requireTool(
  "PostgreSQL at 127.0.0.1:5432",
  await canConnect(),
  "start it (pg_ctlcluster <version> main start) or set STRONGROOM_TEST_POSTGRES",
);

/** A fresh database of its own for one test, dropped by the returned function. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `strongroom_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}
