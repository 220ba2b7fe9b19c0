import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../src/storage/database.js";
import { createSqlLeaseStore } from "../../src/storage/sql-job-store.js";
import { backends } from "../support/backends.js";
import { runCli } from "../support/cli.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;

describe("the purge job", () => {
  const clock = fakeClock(new Date());
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
    const token = await server.token();
    await server.strongroom.app.inject({
      method: "POST",
      url: "/admin/vaults",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: JSON.stringify({ name: "locked", purgeProtection: true, softDeleteRetentionDays: 7 }),
    });
  });
  afterAll(() => server?.stop());

  const run = () => server.strongroom.scheduler.runOnce("purge");
  const status = async (url: string) => (await server.kv({ method: "GET", url })).statusCode;

  it("purges secrets, keys and certificates when their retention ends, not before", async () => {
    await server.kv({ method: "PUT", url: `/secrets/s?${V}`, body: { value: "v" } });
    await server.kv({ method: "POST", url: `/keys/k/create?${V}`, body: { kty: "EC" } });
    await server.createCertificate("c", {
      policy: { issuer: { name: "Self" }, x509_props: { subject: "CN=c" } },
    });
    for (const url of [`/secrets/s?${V}`, `/keys/k?${V}`, `/certificates/c?${V}`]) {
      expect((await server.kv({ method: "DELETE", url })).statusCode).toBe(200);
    }
    clock.advance(89 * DAY_MS);
    expect(await run()).toBe("purged 0");
    expect(await status(`/deletedsecrets/s?${V}`)).toBe(200);

    clock.advance(2 * DAY_MS);
    expect(await run()).toBe("purged 3");
    for (const url of [
      `/deletedsecrets/s?${V}`,
      `/deletedkeys/k?${V}`,
      `/deletedcertificates/c?${V}`,
      `/deletedkeys/c?${V}`,
      `/deletedsecrets/c?${V}`,
    ]) {
      expect(await status(url), url).toBe(404);
    }
    // The names are free again.
    expect(
      (await server.kv({ method: "PUT", url: `/secrets/s?${V}`, body: { value: "again" } })).statusCode,
    ).toBe(200);
  });

  it("purges in a vault with purge protection once the retention has passed", async () => {
    const port = server.strongroom.port;
    const inLocked = (method: "PUT" | "DELETE" | "GET", url: string, body?: unknown) =>
      server.kv({
        method,
        url,
        headers: { host: `locked.localhost:${port}` },
        ...(body !== undefined && { body }),
      });
    await inLocked("PUT", `/secrets/guarded?${V}`, { value: "v" });
    await inLocked("DELETE", `/secrets/guarded?${V}`);
    expect((await inLocked("DELETE", `/deletedsecrets/guarded?${V}`)).statusCode).toBe(403);
    clock.advance(8 * DAY_MS);
    expect(await run()).toBe("purged 1");
    expect((await inLocked("GET", `/deletedsecrets/guarded?${V}`)).statusCode).toBe(404);
  });
});

describe.each(backends.filter((b) => b.available))("job leases on $engine", (backend) => {
  it("let one owner at a time run a job, and the next once the lease is released or expired", async () => {
    const database = await backend.createDatabase();
    const a = openDatabase(database.url);
    const b = openDatabase(database.url);
    try {
      await migrate(a);
      const nodeA = createSqlLeaseStore(a);
      const nodeB = createSqlLeaseStore(b);
      const now = new Date("2026-01-01T00:00:00Z");
      const later = (ms: number) => new Date(now.getTime() + ms);
      expect(await nodeA.acquire("purge", "a", now, later(60_000))).toBe(true);
      expect(await nodeB.acquire("purge", "b", now, later(60_000))).toBe(false);
      expect(await nodeA.acquire("purge", "a", later(1000), later(61_000))).toBe(true);
      expect(await nodeB.acquire("purge", "b", later(61_000), later(120_000))).toBe(true);
      expect(await nodeA.acquire("purge", "a", later(62_000), later(122_000))).toBe(false);
      await nodeB.release("purge", "b");
      expect(await nodeA.acquire("purge", "a", later(63_000), later(123_000))).toBe(true);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});

describe("strongroom jobs run", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("runs the purge job once and says what it did", () => {
    const res = runCli(["jobs", "run", "purge", "--data-dir", data.dir]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe("purge: purged 0");
  });

  it("names the jobs there are when asked for another", () => {
    const res = runCli(["jobs", "run", "renew", "--data-dir", data.dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/No job named renew; jobs: purge/);
  });
});

describe("strongroom webhook", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());
  const cli = (...args: string[]) => runCli([...args, "--data-dir", data.dir]);

  it("creates, lists, updates and deletes subscriptions, and says what is wrong with bad input", () => {
    const created = cli(
      "webhook",
      "create",
      "ops",
      "--endpoint",
      "https://hooks.example/kv",
      "--event",
      "Microsoft.KeyVault.CertificateNearExpiry",
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(
      /^ops\tpending-validation\tEventGridSchema\thttps:\/\/hooks\.example\/kv\tCertificateNearExpiry/,
    );
    expect(cli("webhook", "update", "ops", "--schema", "CloudEventSchemaV1_0").stdout).toMatch(
      /CloudEventSchemaV1_0/,
    );
    expect(cli("webhook", "list").stdout).toMatch(/^ops\t/);
    const bad = cli("webhook", "create", "bad", "--endpoint", "https://x", "--event", "Nope");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Unknown event type "Nope"/);
    expect(cli("webhook", "delete", "ops").stdout).toMatch(/deleted/);
    expect(cli("webhook", "list").stdout.trim()).toBe("");
  });
});
