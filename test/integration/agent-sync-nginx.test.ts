import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { freePort, nginxConfig } from "../support/nginx-fleet.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { makeCertificate } from "../support/test-pki.js";
import { commandExists, requireTool } from "../support/tools.js";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");
const NGINX = "/usr/sbin/nginx";
/** nginx runs as nobody, as a real one does, so that file owners and modes matter to it. */
const NOBODY = 65534;
const haveTools =
  requireTool("nginx", existsSync(NGINX), "apt-get install nginx") &&
  requireTool("openssl", commandExists("openssl"), "apt-get install openssl") &&
  requireTool("setpriv", commandExists("setpriv"), "apt-get install util-linux") &&
  requireTool("root", process.getuid?.() === 0, "run as root: the test starts nginx as nobody");

const until = async (what: string, check: () => Promise<boolean> | boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.runIf(haveTools)("the sync agent keeping nginx's certificate in step with the vault", () => {
  const data = tempDataDir();
  const www = mkdtempSync(join(tmpdir(), "strongroom-sync-"));
  const certs = join(www, "certs");
  const conf = join(www, "nginx.conf");
  const errorLog = join(www, "error.log");
  const credentialsFile = join(data.dir, "agent.json");
  let server: ServerProcess;
  let nginx: ChildProcess;
  let agent: ChildProcess;
  let agentExit: Promise<number | null>;
  let agentOutput = "";
  let port: number;

  const cli = async (...args: string[]) => {
    const result = await runCliAsync([...args, "--data-dir", data.dir]);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  };
  /** A new version of `name` in the default vault; its serial number in openssl's spelling. */
  const newVersion = async (name: string) => {
    await cli(
      "cert",
      "create",
      name,
      "--subject",
      "CN=localhost",
      "--dns",
      "localhost",
      "--content-type",
      "pem",
    );
    return new X509Certificate(await cli("cert", "show", name, "--pem")).serialNumber.toUpperCase();
  };
  const servedSerial = () => {
    try {
      const pem = execFileSync(
        "openssl",
        ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"],
        { input: "", encoding: "utf8", stdio: ["pipe", "pipe", "ignore"], timeout: 5000 },
      );
      return execFileSync("openssl", ["x509", "-noout", "-serial"], { input: pem, encoding: "utf8" })
        .trim()
        .replace("serial=", "");
    } catch {
      return "";
    }
  };
  /** The agent's syncs as the admin API shows them, by name. */
  const syncs = async (): Promise<
    Record<string, { state: string; error?: string; deliveredVersion?: string }>
  > => {
    const client = httpsClient(server.ca);
    try {
      const res = await client.send(`${server.admin.authorityHost}/admin/discovery/agents/web-host`, {
        headers: { authorization: `Bearer ${await adminToken(client, server.admin)}` },
      });
      const agent = res.json<{ syncs: { name: string; state: string }[] }>();
      return Object.fromEntries(agent.syncs.map((s) => [s.name, s]));
    } finally {
      client.close();
    }
  };
  const startServer = async (extra: string[] = []) => {
    server = await startServerProcess(data.dir, extra);
  };

  beforeAll(async () => {
    await startServer();
    await cli(
      "discovery",
      "agent",
      "create",
      "web-host",
      "--out",
      credentialsFile,
      "--server-url",
      `https://localhost:${server.port}`,
    );
    const { clientId } = JSON.parse(readFileSync(credentialsFile, "utf8")) as { clientId: string };
    await cli("role", "assign", clientId, "Key Vault Certificate User", "/vaults/default/certificates/web");
    await newVersion("web");
    await newVersion("not-mine");

    // nginx already serves a certificate of its own, as a host does before it is handed to the agent.
    chmodSync(www, 0o755);
    mkdirSync(certs, { mode: 0o755 });
    mkdirSync(join(www, "temp"));
    chownSync(join(www, "temp"), NOBODY, NOBODY);
    writeFileSync(errorLog, "");
    chownSync(errorLog, NOBODY, NOBODY);
    const placeholder = await makeCertificate({ name: "placeholder", dnsNames: ["localhost"] });
    writeFileSync(join(certs, "fullchain.pem"), placeholder.pem);
    writeFileSync(join(certs, "key.pem"), placeholder.keyPem, { mode: 0o600 });
    chownSync(join(certs, "key.pem"), NOBODY, NOBODY);
    port = await freePort("127.0.0.1");
    const temp = join(www, "temp");
    writeFileSync(
      conf,
      nginxConfig({
        workers: 2,
        pid: join(temp, "nginx.pid"),
        errorLog,
        connections: 1024,
        temp,
        servers: `  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${join(certs, "fullchain.pem")};
    ssl_certificate_key ${join(certs, "key.pem")};
    return 200 "ok\\n";
  }`,
      }),
    );
    nginx = spawn(
      "setpriv",
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        NGINX,
        "-p",
        www,
        "-c",
        conf,
        "-e",
        errorLog,
      ],
      { stdio: "ignore" },
    );
    await until("nginx to serve", () => servedSerial() !== "", 15_000);

    const reload = [NGINX, "-p", www, "-c", conf, "-e", errorLog, "-s", "reload"];
    const configFile = join(data.dir, "agent-config.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        syncs: [
          {
            name: "web",
            vaultUrl: server.admin.vaultUrl,
            certificate: "web",
            outputs: [
              { kind: "fullchain", path: join(certs, "fullchain.pem"), mode: "0644" },
              { kind: "key", path: join(certs, "key.pem"), mode: "0600", uid: NOBODY, gid: NOBODY },
            ],
            reload,
            healthCheck: { host: "127.0.0.1", port, serverName: "localhost", timeoutSeconds: 5 },
            pollSeconds: 1,
          },
          {
            name: "not-mine",
            vaultUrl: server.admin.vaultUrl,
            certificate: "not-mine",
            outputs: [{ kind: "cert", path: join(certs, "not-mine.pem") }],
            pollSeconds: 1,
          },
        ],
      }),
    );
    agent = spawn(
      process.execPath,
      [CLI, "agent", "--credentials", credentialsFile, "--agent-config", configFile],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const collect = (d: Buffer) => {
      agentOutput += d.toString();
    };
    agent.stdout?.on("data", collect);
    agent.stderr?.on("data", collect);
    agentExit = new Promise((r) => agent.once("exit", (code) => r(code)));
  }, 180_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) agent.kill("SIGTERM");
    await agentExit;
    nginx?.kill("SIGQUIT");
    await server?.stop();
    data.remove();
    rmSync(www, { recursive: true, force: true });
  });

  it("replaces nginx's own certificate with the vault's, read under the agent's Certificate User role", async () => {
    const vaultSerial = new X509Certificate(
      await cli("cert", "show", "web", "--pem"),
    ).serialNumber.toUpperCase();
    await until("nginx to serve the vault's certificate", () => servedSerial() === vaultSerial, 30_000);
    await until(
      "the delivery to be reported",
      () => /sync web: delivered version \w+/.test(agentOutput),
      10_000,
    );
    const { version } = JSON.parse(await cli("cert", "show", "web", "--json")) as { version: string };
    await until(
      "the server to show it",
      async () => (await syncs()).web?.deliveredVersion === version,
      10_000,
    );
    expect((await syncs()).web).toMatchObject({ state: "in-sync", version });
    // Each delivered file is a location of the certificate in the inventory.
    const shown = JSON.parse(await cli("discovery", "agent", "show", "web-host", "--json"));
    expect(shown.syncs.map((s: { name: string }) => s.name)).toEqual(["not-mine", "web"]);
    const fingerprint = new X509Certificate(await cli("cert", "show", "web", "--pem")).fingerprint256
      .replaceAll(":", "")
      .toLowerCase();
    const record = JSON.parse(await cli("inventory", "show", fingerprint, "--json"));
    expect(record.locations.map((l: { uri: string }) => l.uri)).toEqual(
      expect.arrayContaining([
        `file://web-host${join(certs, "fullchain.pem")}`,
        `file://web-host${join(certs, "key.pem")}`,
      ]),
    );
  }, 90_000);

  it("serves a renewal within 30 s and no request fails during the switch", async () => {
    let served = 0;
    let failed: string[] = [];
    let going = true;
    const loop = (async () => {
      while (going) {
        await new Promise<void>((done) => {
          get(
            {
              host: "127.0.0.1",
              port,
              servername: "localhost",
              path: "/",
              rejectUnauthorized: false,
              agent: false,
            },
            (res) => {
              res.resume();
              res.on("end", () => {
                if (res.statusCode === 200) served++;
                else failed.push(`status ${res.statusCode}`);
                done();
              });
            },
          ).on("error", (error) => {
            failed.push(error.message);
            done();
          });
        });
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const renewed = await newVersion("web");
    const started = Date.now();
    await until("the renewal to be served", () => servedSerial() === renewed, 30_000);
    expect(Date.now() - started).toBeLessThan(30_000);
    await new Promise((r) => setTimeout(r, 1000));
    going = false;
    await loop;
    expect(failed).toEqual([]);
    expect(served).toBeGreaterThan(10);
    failed = [];
  }, 60_000);

  it("a sync its principal may not read fails clearly, writes nothing and is reported failed", async () => {
    expect(agentOutput).toMatch(/sync not-mine: cannot read not-mine from \S+: .*403/);
    expect(existsSync(join(certs, "not-mine.pem"))).toBe(false);
    expect((await syncs())["not-mine"]).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/403/),
    });
  });

  it("rolls back a delivery that breaks nginx's reload and reports it", async () => {
    const before = servedSerial();
    const fullchain = readFileSync(join(certs, "fullchain.pem"), "utf8");
    // Bad permissions: nginx (nobody) can no longer enter the directory the new files land in.
    chmodSync(certs, 0o700);
    try {
      await newVersion("web");
      await until(
        "the failure to be reported",
        () => /sync web: delivery of version \w+ failed/.test(agentOutput),
        30_000,
      );
      expect(agentOutput).toMatch(/did not present the new certificate.*the previous files are back/);
      expect(readFileSync(join(certs, "fullchain.pem"), "utf8")).toBe(fullchain);
      await until(
        "the server to show the failure",
        async () => (await syncs()).web?.state === "failed",
        10_000,
      );
      expect((await syncs()).web?.error).toMatch(/did not present the new certificate/);
    } finally {
      chmodSync(certs, 0o755);
    }
    expect(servedSerial()).toBe(before);
  }, 60_000);

  it("keeps the files through a server restart and picks up a version made while the server was down", async () => {
    const before = servedSerial();
    const serverPort = server.port;
    await server.stop();
    const madeWhileDown = await newVersion("web");
    await until("the agent to notice", () => /sync web: cannot read web/.test(agentOutput), 15_000);
    expect(servedSerial()).toBe(before);
    await startServer(["--port", String(serverPort)]);
    await until("the version made while down to be served", () => servedSerial() === madeWhileDown, 60_000);
  }, 120_000);
});
