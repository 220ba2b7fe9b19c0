/**
 * bench/agent: time from a new certificate version in the vault to nginx serving it through the
 * agent's sync, over 20 rounds, beside a plain `nginx -s reload` of an already-written file in the
 * same run (issue 23; target: median added delay ≤ 2 s, p95 ≤ 5 s). The agent learns of each version
 * through the server's push (`/agent/v1/watch`); its polling is slowed to 30 s so that it cannot be
 * what delivers.
 *
 * A version's clock starts when the official SDK's import of it answers: from then on the version
 * exists and the agent may read it. Its certificate and key are made before the clock starts. Served
 * means a TLS handshake presents it.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect } from "node:tls";
import { CertificateClient } from "@azure/keyvault-certificates";
import { freePort, nginxConfig } from "../test/support/nginx-fleet.js";
import { sdkOptions } from "../test/support/sdk.js";
import { startServerProcess, tempDataDir } from "../test/support/server-process.js";
import { makeCertificate } from "../test/support/test-pki.js";

const CLI = resolve(import.meta.dirname, "../dist/cli/main.js");
const NGINX = "/usr/sbin/nginx";
const ROUNDS = 20;
const POLL_SECONDS = 30;

const data = tempDataDir();
const www = mkdtempSync(join(tmpdir(), "strongroom-bench-agent-"));
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args, "--data-dir", data.dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`strongroom ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const fingerprint = (pem: string) => createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
const presented = (port: number) =>
  new Promise<string>((done) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      done(socket.getPeerCertificate().fingerprint256.replaceAll(":", "").toLowerCase());
      socket.end();
    });
    socket.once("error", () => done(""));
  });
async function servedAfter(port: number, expected: string, started: number): Promise<number> {
  while ((await presented(port)) !== expected) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - started;
}
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

let nginx: ChildProcess | undefined;
let agent: ChildProcess | undefined;
const server = await startServerProcess(data.dir);
try {
  const credentials = join(data.dir, "agent.json");
  cli(
    "discovery",
    "agent",
    "create",
    "bench",
    "--out",
    credentials,
    "--server-url",
    `https://localhost:${server.port}`,
  );
  const { clientId } = JSON.parse(readFileSync(credentials, "utf8")) as { clientId: string };
  cli("role", "assign", clientId, "Key Vault Certificate User", "/vaults/default/certificates/web");
  const { credential, clientOptions } = sdkOptions(server);
  const client = new CertificateClient(server.admin.vaultUrl, credential, clientOptions);
  let made = 0;
  /** A certificate and key for the next version, made before any clock starts. */
  const nextVersion = async () => {
    const c = await makeCertificate({ name: `version-${made++}`, dnsNames: ["localhost"] });
    return { pem: Buffer.from(`${c.pem}${c.keyPem}`), fingerprint: fingerprint(c.pem) };
  };
  /** Imports a version; resolves once the vault has it, as any client would learn. */
  const newVersion = async (version: Awaited<ReturnType<typeof nextVersion>>) => {
    await client.importCertificate("web", version.pem, { policy: { contentType: "application/x-pem-file" } });
    return version.fingerprint;
  };
  await newVersion(await nextVersion());

  const certs = join(www, "certs");
  mkdirSync(certs);
  mkdirSync(join(www, "temp"));
  const first = await makeCertificate({ name: "first", dnsNames: ["localhost"] });
  for (const name of ["agent", "plain"]) {
    writeFileSync(join(certs, `${name}.pem`), first.pem);
    writeFileSync(join(certs, `${name}.key`), first.keyPem, { mode: 0o600 });
  }
  const [agentPort, plainPort] = [await freePort("127.0.0.1"), await freePort("127.0.0.1")];
  const block = (port: number, name: string) => `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${join(certs, `${name}.pem`)};
    ssl_certificate_key ${join(certs, `${name}.key`)};
    return 200 "ok\\n";
  }`;
  const conf = join(www, "nginx.conf");
  const temp = join(www, "temp");
  writeFileSync(
    conf,
    nginxConfig({
      user: "root root",
      workers: 2,
      pid: join(temp, "nginx.pid"),
      errorLog: join(www, "error.log"),
      connections: 1024,
      temp,
      servers: `${block(agentPort, "agent")}\n${block(plainPort, "plain")}`,
    }),
  );
  const nginxArgs = ["-p", www, "-c", conf, "-e", join(www, "error.log")];
  nginx = spawn(NGINX, nginxArgs, { stdio: "ignore" });
  await servedAfter(plainPort, fingerprint(first.pem), Date.now());

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
            { kind: "fullchain", path: join(certs, "agent.pem") },
            { kind: "key", path: join(certs, "agent.key") },
          ],
          reload: [NGINX, ...nginxArgs, "-s", "reload"],
          // Polling only as the fallback: what the rounds measure is the server's push (the watch).
          pollSeconds: POLL_SECONDS,
        },
      ],
    }),
  );
  agent = spawn(
    process.execPath,
    [CLI, "agent", "--credentials", credentials, "--agent-config", configFile],
    {
      stdio: "ignore",
    },
  );
  await servedAfter(agentPort, fingerprint(cli("cert", "show", "web", "--pem")), Date.now());

  const viaAgent: number[] = [];
  const plainReload: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const version = await nextVersion();
    const expected = await newVersion(version);
    const started = Date.now();
    const seen = await servedAfter(agentPort, expected, started);
    viaAgent.push(seen);

    const next = await makeCertificate({ name: `plain-${round}`, dnsNames: ["localhost"] });
    writeFileSync(join(certs, "plain.pem"), next.pem);
    writeFileSync(join(certs, "plain.key"), next.keyPem, { mode: 0o600 });
    const reloadStarted = Date.now();
    execFileSync(NGINX, [...nginxArgs, "-s", "reload"]);
    plainReload.push(await servedAfter(plainPort, fingerprint(next.pem), reloadStarted));
  }
  const added = viaAgent.map((ms, i) => ms - (plainReload[i] as number));
  const row = (name: string, values: number[]) =>
    `| ${name.padEnd(28)} | ${String(percentile(values, 50)).padStart(6)} ms | ${String(percentile(values, 95)).padStart(6)} ms |`;
  console.log(
    `${ROUNDS} rounds, agent watching the server (polling every ${POLL_SECONDS} s ±20 % as fallback)`,
  );
  console.log("| path                         |    median |       p95 |");
  console.log("| ---------------------------- | --------: | --------: |");
  console.log(row("new version → served (agent)", viaAgent));
  console.log(row("plain nginx -s reload", plainReload));
  console.log(row("added by the agent", added));
  console.log(
    `ratio agent/plain (median): ${(percentile(viaAgent, 50) / Math.max(1, percentile(plainReload, 50))).toFixed(1)}`,
  );
} finally {
  agent?.kill("SIGTERM");
  nginx?.kill("SIGQUIT");
  await server.stop();
  data.remove();
  rmSync(www, { recursive: true, force: true });
}
