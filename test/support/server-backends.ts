import { createTestDatabase, postgresAvailable } from "./postgres.js";

/** The storage engines a server process is run on by the compatibility suites. */
export const serverBackends = [
  { name: "SQLite", enabled: true, database: async () => undefined },
  { name: "PostgreSQL", enabled: postgresAvailable, database: createTestDatabase },
];

/** `--database` arguments for one backend, and how to drop what it made. */
export async function backendArgs(backend: (typeof serverBackends)[number]) {
  const database = await backend.database();
  return { args: database ? ["--database", database.url] : [], drop: async () => database?.drop() };
}
