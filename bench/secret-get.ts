/**
 * Authenticated secret GET throughput of a real Strongroom process, against a bare node:https server
 * answering the same bytes, both measured with wrk in this run. Run with `npm run bench:secret-get`.
 */
import "reflect-metadata";
import { spawn, spawnSync } from "node:child_process";
import { KeyObject, webcrypto } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import * as x509 from "@peculiar/x509";
import type { AdminCredentials } from "../src/main.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";

const CONNECTIONS = 32;
// One wrk thread leaves the machine's other core to the server; two would compete with it on 2 cores.
const THREADS = 1;
const WARMUP_S = 2;
const DURATION_S = 10;
const TARGET_RATIO = 0.5;
const SECRET_PATH = "/secrets/bench-secret?api-version=7.6";

interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

interface Response {
  status: number;
  body: Buffer;
}

function send(
  url: string,
  ca: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

function expectOk(what: string, response: Response): Buffer {
  if (response.status >= 300) throw new Error(`${what}: HTTP ${response.status} ${response.body}`);
  return response.body;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`unreadable wrk duration "${text}"`);
  return Number(match[1]) * (UNIT_MS[match[2]] ?? Number.NaN);
}

function parseWrk(output: string): WrkResult {
  // A benchmark of 401s or resets would measure the error path, not a secret read.
  const errors = /Non-2xx or 3xx responses: \d+|Socket errors: .*/.exec(output);
  if (errors) throw new Error(`wrk saw failures (${errors[0]}):\n${output}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(output)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(output)?.[1];
  if (!rps || !p50 || !p99) throw new Error(`unreadable wrk output:\n${output}`);
  return { requestsPerSecond: Number(rps), p50Ms: durationMs(p50), p99Ms: durationMs(p99) };
}

// Asynchronous on purpose: the baseline server lives in this process and must keep serving.
function wrk(url: string, seconds: number, headers: string[]): Promise<WrkResult> {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency"];
  for (const header of headers) args.push("-H", header);
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", [...args, url], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}:\n${output}`));
      else {
        try {
          resolve(parseWrk(output));
        } catch (error) {
          reject(error);
        }
      }
    });
  });
}

async function measure(url: string, headers: string[]): Promise<WrkResult> {
  await wrk(url, WARMUP_S, headers);
  return wrk(url, DURATION_S, headers);
}

/** A throwaway ECDSA P-256 certificate, the key type Strongroom's bootstrap TLS uses. */
async function selfSignedP256(): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=127.0.0.1",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: algorithm,
    keys,
  });
  const key = KeyObject.from(keys.privateKey as webcrypto.CryptoKey).export({ type: "pkcs8", format: "pem" });
  return { cert: cert.toString("pem"), key: key.toString() };
}

/** Serves `body` to every request, with the same keep-alive timeout as Strongroom's server. */
async function startBareServer(body: Buffer): Promise<{ port: number; close: () => void }> {
  const server = createServer({ ...(await selfSignedP256()), minVersion: "TLSv1.2" }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => server.close(),
  };
}

async function fetchToken(origin: string, admin: AdminCredentials, ca: string): Promise<string> {
  const response = await send(`${origin}/${admin.tenantId}/oauth2/v2.0/token`, ca, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: admin.clientId,
      client_secret: admin.clientSecret,
      grant_type: "client_credentials",
      scope: "https://localhost/.default",
    }).toString(),
  });
  return (JSON.parse(expectOk("token", response).toString()) as { access_token: string }).access_token;
}

function formatResult(name: string, result: WrkResult): string {
  const rps = result.requestsPerSecond.toFixed(0).padStart(7);
  return `${name.padEnd(12)} ${rps} req/s   p50 ${result.p50Ms.toFixed(2)} ms   p99 ${result.p99Ms.toFixed(2)} ms`;
}

async function main(): Promise<number> {
  if (spawnSync("wrk", ["--version"]).error) {
    console.error("wrk is not installed. On Debian or Ubuntu: apt-get install -y wrk");
    return 1;
  }
  if (!existsSync(new URL("../dist/cli/main.js", import.meta.url))) {
    console.error("dist/ is missing: run `npm run build` first (npm run bench:secret-get does).");
    return 1;
  }

  const data = tempDataDir();
  let strongroom: ServerProcess | undefined;
  let bare: { port: number; close: () => void } | undefined;
  try {
    strongroom = await startServerProcess(data.dir);
    const { admin, ca } = strongroom;
    const origin = `https://127.0.0.1:${strongroom.port}`;
    const url = `${origin}${SECRET_PATH}`;
    const authorization = `Bearer ${await fetchToken(origin, admin, ca)}`;
    const value = JSON.stringify({ value: "x".repeat(64) });
    const headers = { authorization, "content-type": "application/json" };
    expectOk("secret set", await send(url, ca, { method: "PUT", headers, body: value }));
    // wrk sends the same Host, so the baseline serves exactly the bytes Strongroom answers it with.
    const body = expectOk("secret get", await send(url, ca, { headers: { authorization } }));
    bare = await startBareServer(body);

    console.log(`wrk -t${THREADS} -c${CONNECTIONS}, ${WARMUP_S} s warm-up + ${DURATION_S} s each`);
    console.log(`GET ${SECRET_PATH}, ${body.length}-byte response`);
    // The baseline gets the same request bytes, token included, though it ignores them.
    const wrkHeaders = [`Authorization: ${authorization}`];
    const strongroomResult = await measure(url, wrkHeaders);
    console.log(formatResult("strongroom", strongroomResult));
    const bareResult = await measure(`https://127.0.0.1:${bare.port}${SECRET_PATH}`, wrkHeaders);
    console.log(formatResult("bare https", bareResult));
    const ratio = strongroomResult.requestsPerSecond / bareResult.requestsPerSecond;
    console.log(`ratio strongroom/bare: ${ratio.toFixed(2)} (target >= ${TARGET_RATIO})`);
    return 0;
  } finally {
    bare?.close();
    await strongroom?.stop();
    data.remove();
  }
}

process.exitCode = await main();
