import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  databaseUrl,
  gradingThreadCount,
  loadConfig,
  workerCount,
} from "../../src/config/config.js";

describe("configuration", () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "strongroom-config-"));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("defaults to HTTPS on 8443 with SQLite under ./data", () => {
    const cwd = dir();
    const config = loadConfig({ cwd, env: {} });
    expect(config.port).toBe(8443);
    expect(config.dataDir).toBe(join(cwd, "data"));
    expect(databaseUrl(config)).toBe(join(cwd, "data", "strongroom.db"));
  });

  it("layers the file under the environment under flags", () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, "strongroom.json"),
      JSON.stringify({ port: 1000, dnsSuffix: "file.example", logLevel: "warn" }),
    );
    const config = loadConfig({
      cwd,
      env: { STRONGROOM_PORT: "2000", STRONGROOM_DNS_SUFFIX: "env.example" },
      flags: { port: "3000", dataDir: undefined },
    });
    expect(config.port).toBe(3000);
    expect(config.dnsSuffix).toBe("env.example");
    expect(config.logLevel).toBe("warn");
  });

  it("reads a config file named with --config and fails clearly when it is missing", () => {
    const cwd = dir();
    writeFileSync(join(cwd, "custom.json"), JSON.stringify({ publicHost: "vault.example.com" }));
    expect(loadConfig({ cwd, env: {}, configFile: "custom.json" }).publicHost).toBe("vault.example.com");
    expect(() => loadConfig({ cwd, env: {}, configFile: "absent.json" })).toThrow(
      /absent.json does not exist/,
    );
  });

  it("parses aliases from the environment", () => {
    const config = loadConfig({
      cwd: dir(),
      env: { STRONGROOM_ALIASES: "127.0.0.2=team,ops.internal:8443=ops" },
    });
    expect(config.aliases).toEqual({ "127.0.0.2": "team", "ops.internal:8443": "ops" });
  });

  it("names every invalid setting", () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, "strongroom.json"),
      JSON.stringify({ port: 70000, logLevel: "loud", colour: "blue" }),
    );
    const attempt = () => loadConfig({ cwd, env: {} });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/\/port/);
    expect(attempt).toThrow(/\/logLevel/);
    expect(attempt).toThrow(/colour/);
  });

  it("runs one server process unless told otherwise, and one per core with auto", () => {
    const cwd = dir();
    expect(workerCount(loadConfig({ cwd, env: {} }))).toBe(1);
    expect(workerCount(loadConfig({ cwd, env: { STRONGROOM_WORKERS: "3" } }))).toBe(3);
    expect(workerCount(loadConfig({ cwd, env: {}, flags: { workers: "auto" } }))).toBe(
      availableParallelism(),
    );
    expect(() => loadConfig({ cwd, env: { STRONGROOM_WORKERS: "0" } })).toThrow(/\/workers/);
  });

  it("grades on one thread per core on PostgreSQL unless told otherwise, and on one on SQLite", () => {
    const cwd = dir();
    const pg = "postgres://127.0.0.1:5432/db";
    expect(gradingThreadCount(loadConfig({ cwd, env: {} }))).toBe(1);
    expect(gradingThreadCount(loadConfig({ cwd, env: { STRONGROOM_GRADING_THREADS: "4" } }))).toBe(1);
    expect(gradingThreadCount(loadConfig({ cwd, env: { STRONGROOM_DATABASE_URL: pg } }))).toBe(
      availableParallelism(),
    );
    expect(
      gradingThreadCount(
        loadConfig({ cwd, env: { STRONGROOM_DATABASE_URL: pg, STRONGROOM_GRADING_THREADS: "3" } }),
      ),
    ).toBe(3);
    expect(() => loadConfig({ cwd, env: { STRONGROOM_GRADING_THREADS: "0" } })).toThrow(/\/gradingThreads/);
  });

  it("refuses several workers over an in-memory database, which each would have alone", () => {
    expect(() => loadConfig({ cwd: dir(), env: {}, flags: { workers: "2", database: ":memory:" } })).toThrow(
      /workers must be 1 with an in-memory database/,
    );
  });

  it("refuses a TLS certificate without its key", () => {
    expect(() => loadConfig({ cwd: dir(), env: { STRONGROOM_TLS_CERT_FILE: "/x.pem" } })).toThrow(/together/);
  });

  it("is frozen", () => {
    const config = loadConfig({ cwd: dir(), env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow();
  });
});
