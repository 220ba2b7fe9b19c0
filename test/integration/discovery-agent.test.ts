import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { makeCertificate, type TestCertificate } from "../support/test-pki.js";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`the discovery agent process against a server (${backend.name})`, () => {
    const data = tempDataDir();
    let server: ServerProcess;
    let database: string[] = [];
    let drop: () => Promise<void> = async () => {};
    let agent: ChildProcess;
    let agentOutput = "";
    let agentExit: Promise<number | null>;
    let endpoint: Server;
    let endpointPort: number;
    let root: TestCertificate;
    let leaf: TestCertificate;
    const credentialsFile = join(data.dir, "agent.json");

    beforeAll(async () => {
      ({ args: database, drop } = await backendArgs(backend));
      server = await startServerProcess(data.dir, database);
      root = await makeCertificate({ name: "Agent Test Root", ca: true });
      leaf = await makeCertificate({ name: "edge.test", dnsNames: ["edge.test"], issuer: root });
      endpoint = createServer({ cert: leaf.pem + root.pem, key: leaf.keyPem });
      await new Promise<void>((r) => endpoint.listen(0, "127.0.0.21", r));
      endpointPort = (endpoint.address() as { port: number }).port;

      const created = await runCliAsync([
        "discovery",
        "agent",
        "create",
        "edge-1",
        "--data-dir",
        data.dir,
        ...database,
        "--out",
        credentialsFile,
        "--server-url",
        `https://localhost:${server.port}`,
      ]);
      expect(created.code, created.stderr).toBe(0);
      agent = spawn(process.execPath, [CLI, "agent", "--credentials", credentialsFile, "--poll-ms", "200"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      agent.stdout?.on("data", (d: Buffer) => {
        agentOutput += d.toString();
      });
      agent.stderr?.on("data", (d: Buffer) => {
        agentOutput += d.toString();
      });
      agentExit = new Promise((r) => agent.once("exit", (code) => r(code)));
      for (let i = 0; i < 100 && !agentOutput.includes("registered"); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(agentOutput).toContain("registered");
    }, 120_000);

    afterAll(async () => {
      if (agent && agent.exitCode === null) agent.kill("SIGTERM");
      await agentExit;
      await new Promise((r) => endpoint?.close(r));
      await server?.stop();
      await drop();
      data.remove();
    });

    it("registers under its own principal and reports its host", async () => {
      const listed = await runCliAsync([
        "discovery",
        "agent",
        "list",
        "--json",
        "--data-dir",
        data.dir,
        ...database,
      ]);
      const [edge] = JSON.parse(listed.stdout) as Array<Record<string, string>>;
      expect(edge?.name).toBe("edge-1");
      expect(edge?.registeredAt).toBeDefined();
      expect(edge?.lastSeenAt).toBeDefined();
      expect(edge?.hostname).toBeTruthy();
      const credentials = JSON.parse(readFileSync(credentialsFile, "utf8"));
      expect(credentials.clientId).not.toBe(server.admin.clientId);
    });

    /** Runs `work` with an HTTPS client and the agent's own bearer token, as the agent calls. */
    async function asAgent(
      work: (client: ReturnType<typeof httpsClient>, headers: Record<string, string>) => Promise<void>,
    ): Promise<void> {
      const credentials = JSON.parse(readFileSync(credentialsFile, "utf8"));
      const client = httpsClient(server.ca);
      try {
        const token = await adminToken(client, { ...credentials, authorityHost: server.admin.authorityHost });
        await work(client, { authorization: `Bearer ${token}` });
      } finally {
        client.close();
      }
    }

    it("holds only the agent role: the admin and vault APIs refuse its token", async () => {
      await asAgent(async (client, headers) => {
        expect((await client.send(`${server.admin.authorityHost}/admin/vaults`, { headers })).status).toBe(
          403,
        );
        const secrets = await client.send(`${server.admin.vaultUrl}/secrets?api-version=7.5`, { headers });
        expect(secrets.status).toBe(403);
        // The admin's token is not an agent's either.
        const admin = await adminToken(client, server.admin);
        const claim = await client.send(`${server.admin.authorityHost}/agent/v1/assignments/claim`, {
          method: "POST",
          headers: { authorization: `Bearer ${admin}` },
        });
        expect(claim.status).toBe(403);
      });
    });

    it("runs the scan assigned to it and its findings reach the inventory", async () => {
      const scan = await runCliAsync([
        "discovery",
        "scan",
        "--agent",
        "edge-1",
        "--target",
        "127.0.0.21",
        "--port",
        String(endpointPort),
        "--sni",
        "edge.test",
        "--wait",
        "--json",
        "--data-dir",
        data.dir,
        ...database,
      ]);
      expect(scan.code, scan.stderr + agentOutput).toBe(0);
      const run = JSON.parse(scan.stdout);
      expect(run.status).toBe("completed");
      expect(run.agent).toBe("edge-1");
      expect(run.done).toBe(2);
      expect(run.failed).toBe(0);
      expect(scan.stderr).toMatch(/\[#+\] 2\/2 done, 0 failed, 0 remaining/);

      const shown = JSON.parse(
        (
          await runCliAsync([
            "discovery",
            "show",
            run.id,
            "--results",
            "--json",
            "--data-dir",
            data.dir,
            ...database,
          ])
        ).stdout,
      );
      const locations = shown.results.map((r: { location: string }) => r.location).sort();
      expect(locations).toEqual([
        `tls://127.0.0.21:${endpointPort}`,
        `tls://127.0.0.21:${endpointPort}?sni=edge.test`,
      ]);
      for (const r of shown.results) {
        expect(r.fingerprintSha256).toBe(leaf.sha256);
        expect(r.chain.map((c: { fingerprintSha256: string }) => c.fingerprintSha256)).toEqual([
          leaf.sha256,
          root.sha256,
        ]);
      }

      // The inventory job runs on the server; the observation was written when the agent pushed it.
      const inventory = await runCliAsync([
        "inventory",
        "show",
        leaf.sha256,
        "--json",
        "--data-dir",
        data.dir,
        ...database,
      ]);
      expect(inventory.code, inventory.stderr).toBe(0);
      const record = JSON.parse(inventory.stdout);
      expect(record.locations.map((l: { uri: string }) => l.uri).sort()).toEqual(locations);
      expect(record.locations.every((l: { source: string }) => l.source === "tls")).toBe(true);
    }, 60_000);

    it("keeps its idle polls and heartbeats out of the audit log, but not the claim that leased work", async () => {
      await asAgent(async (client, headers) => {
        const heartbeat = (body: unknown) =>
          client.send(`${server.admin.authorityHost}/agent/v1/heartbeat`, {
            method: "POST",
            headers: { ...headers, "content-type": "application/json" },
            body: JSON.stringify(body),
          });
        // Alive and nothing else: only the last-seen time moves.
        expect((await heartbeat({})).status).toBe(200);
        // A restart is a change of record.
        expect((await heartbeat({ starting: true })).status).toBe(200);
        expect((await heartbeat({ hostname: 7 })).status).toBe(400);
        const watch = `${server.admin.authorityHost}/agent/v1/watch?certificate=${encodeURIComponent(`${server.admin.vaultUrl}/certificates/none`)}`;
        const start = await client.send(watch, { headers });
        expect(start.status).toBe(200);
        const { seq } = start.json<{ seq: number }>();
        const empty = await client.send(`${watch}&since=${seq}&timeoutSeconds=0`, { headers });
        expect(empty.json()).toEqual({ seq, versions: [] });
        const refused = await client.send(`${watch}&since=x`, { headers });
        expect(refused.status).toBe(400);
      });
      const { clientId } = JSON.parse(readFileSync(credentialsFile, "utf8"));
      // The agent has asked for work every 200 ms since it registered, finding some once.
      const exported = await runCliAsync([
        "audit",
        "export",
        "--principal",
        clientId,
        "--data-dir",
        data.dir,
        ...database,
      ]);
      expect(exported.code, exported.stderr).toBe(0);
      const rows = exported.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { operation: string; status: number });
      expect(rows.filter((r) => r.operation === "AgentClaim").map((r) => r.status)).toEqual([200]);
      expect(rows.filter((r) => r.operation === "AgentWatch").map((r) => r.status)).toEqual([200, 400]);
      expect(rows.some((r) => r.operation === "AgentResults")).toBe(true);
      // The agent's registration and the restart above; its own periodic heartbeats change nothing.
      expect(rows.filter((r) => r.operation === "AgentHeartbeat").map((r) => r.status)).toEqual([
        200, 200, 400,
      ]);
    });

    it("stops cleanly on SIGTERM", async () => {
      agent.kill("SIGTERM");
      expect(await agentExit).toBe(0);
      expect(agentOutput).toContain("stopped");
    });
  });
}
