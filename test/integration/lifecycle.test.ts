import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { opensslSelfSigned } from "../support/openssl-req.js";
import { startServerProcess, tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";

describe("a server process across restarts", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("creates its data directory, CA, master key and admin credentials on first start and reuses them", async () => {
    const first = await startServerProcess(data.dir);
    expect(statSync(join(data.dir, "admin.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(data.dir, "master.key")).mode & 0o777).toBe(0o600);
    expect(first.admin.caFile).toBe(join(data.dir, "tls", "ca.pem"));
    let http = httpsClient(first.ca);
    let token = await adminToken(http, first.admin);
    const put = await http.send(`${first.admin.vaultUrl}/secrets/kept?${V}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ value: "survives restarts" }),
    });
    expect(put.status).toBe(200);
    http.close();
    expect(await first.stop()).toBe(0);

    const second = await startServerProcess(data.dir);
    expect(second.admin.clientId).toBe(first.admin.clientId);
    expect(second.admin.clientSecret).toBe(first.admin.clientSecret);
    expect(second.admin.tenantId).toBe(first.admin.tenantId);
    expect(second.ca).toBe(first.ca);
    http = httpsClient(second.ca);
    token = await adminToken(http, second.admin);
    const got = await http.send(`${second.admin.vaultUrl}/secrets/kept?${V}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(got.json().value).toBe("survives restarts");
    http.close();
    expect(await second.stop()).toBe(0);
  });
});

describe("a server with the operator's own TLS certificate", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("serves that certificate and makes no bootstrap CA", async () => {
    const cert = join(data.dir, "own.pem");
    const key = join(data.dir, "own-key.pem");
    opensslSelfSigned(key, cert, "/CN=localhost", { days: 2, subjectAltName: "DNS:localhost,IP:127.0.0.1" });
    const server = await startServerProcess(join(data.dir, "server"), [], {
      STRONGROOM_TLS_CERT_FILE: cert,
      STRONGROOM_TLS_KEY_FILE: key,
    });
    try {
      expect(server.admin.caFile).toBeUndefined();
      expect(existsSync(join(data.dir, "server", "tls", "ca.pem"))).toBe(false);
      const http = httpsClient(readFileSync(cert, "utf8"));
      expect((await http.send(`${server.admin.vaultUrl}/healthz`)).status).toBe(200);
      http.close();
    } finally {
      await server.stop();
    }
  });
});

describe("operations endpoints", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("answers health, readiness and Prometheus metrics without a token", async () => {
    const server = await startServerProcess(data.dir);
    const http = httpsClient(server.ca);
    try {
      const base = server.admin.vaultUrl;
      expect((await http.send(`${base}/healthz`)).json()).toEqual({ status: "ok" });
      expect((await http.send(`${base}/readyz`)).json()).toEqual({ status: "ready" });
      await http.send(`${base}/secrets?${V}`);
      // The histogram is observed once the response has gone out, which can be after the client
      // has read it; scrape until that request shows.
      let metrics = await http.send(`${base}/metrics`);
      for (let i = 0; i < 20 && !metrics.text.includes('route="/secrets",status="401"'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        metrics = await http.send(`${base}/metrics`);
      }
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(
        /strongroom_http_request_duration_seconds_count\{method="GET",route="\/secrets",status="401"\} 1/,
      );
      expect(metrics.text).toMatch(/strongroom_process_cpu_seconds_total/);
    } finally {
      http.close();
      await server.stop();
    }
  });
});

describe("the audit log", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("records every API request, never a secret value, and tells when a row was altered", async () => {
    const server = await startServerProcess(data.dir);
    const http = httpsClient(server.ca);
    const token = await adminToken(http, server.admin);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const base = server.admin.vaultUrl;
    await http.send(`${base}/secrets/audited?${V}`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ value: "s3cr3t-value-never-logged" }),
    });
    await http.send(`${base}/secrets/audited?${V}`, { headers });
    await http.send(`${base}/secrets/missing?${V}`, { headers });
    await http.send(`${base}/secrets/audited?${V}`);
    http.close();
    await server.stop();

    const exported = runCli(["audit", "export", "--data-dir", data.dir]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).not.toContain("s3cr3t-value-never-logged");
    expect(exported.stdout).not.toContain(token);
    const rows = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const ops = rows.map((r) => [r.operation, r.status, r.outcome]);
    expect(ops).toEqual(
      expect.arrayContaining([
        ["TokenIssue", 200, "success"],
        ["SecretSet", 200, "success"],
        ["SecretGet", 200, "success"],
        ["SecretGet", 404, "failure"],
        ["SecretGet", 401, "failure"],
      ]),
    );
    const set = rows.find((r) => r.operation === "SecretSet");
    expect(set).toMatchObject({
      vault: "default",
      objectId: `${base}/secrets/audited`,
      clientId: server.admin.clientId,
      clientAddress: "127.0.0.1",
    });
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));

    const intact = runCli(["audit", "verify", "--data-dir", data.dir]);
    expect(intact.code).toBe(0);
    // The export is itself a CLI action with its own row, and jobs may add theirs; none may be missing.
    const verified = Number(/intact: (\d+) rows verified/.exec(intact.stdout)?.[1]);
    expect(verified).toBeGreaterThanOrEqual(rows.length);

    const db = new Database(join(data.dir, "strongroom.audit.db"));
    db.prepare("update audit_log set status = 200 where seq = ?").run(rows.find((r) => r.status === 404).seq);
    db.close();
    const tampered = runCli(["audit", "verify", "--data-dir", data.dir]);
    expect(tampered.code).toBe(2);
    expect(tampered.stderr).toMatch(/TAMPERED at row \d+ \(altered\)/);
  });
});
