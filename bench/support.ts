/**
 * What the benchmarks in bench/ share: wrk driving and parsing, the bare node:https baseline, and
 * HTTPS calls to a Strongroom process started by test/support/server-process.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { KeyObject, webcrypto } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import * as x509 from "@peculiar/x509";
import Fastify from "fastify";
import type { AdminCredentials } from "../src/main.js";

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  /** `Name: value` header lines, passed as `-H`. */
  headers?: string[];
  /** A Lua script for `-s`, for what `-H` cannot set: method and body. */
  script?: string;
}

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Response {
  status: number;
  body: Buffer;
}

export interface BareServer {
  port: number;
  close: () => void;
}

export function send(
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

export function expectOk(what: string, response: Response): Buffer {
  if (response.status >= 300) throw new Error(`${what}: HTTP ${response.status} ${response.body}`);
  return response.body;
}

/** Returns a message saying what is missing, or undefined when wrk and dist/ are both there. */
export function missingPrerequisite(npmScript: string): string | undefined {
  if (spawnSync("wrk", ["--version"]).error) {
    return "wrk is not installed. On Debian or Ubuntu: apt-get install -y wrk";
  }
  if (!existsSync(new URL("../dist/cli/main.js", import.meta.url))) {
    return `dist/ is missing: run \`npm run build\` first (npm run ${npmScript} does).`;
  }
  return undefined;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`unreadable wrk duration "${text}"`);
  return Number(match[1]) * (UNIT_MS[match[2]] ?? Number.NaN);
}

function parseWrk(output: string): WrkResult {
  // A benchmark of 401s or resets would measure the error path, not the operation.
  const errors = /Non-2xx or 3xx responses: \d+|Socket errors: .*/.exec(output);
  if (errors) throw new Error(`wrk saw failures (${errors[0]}):\n${output}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(output)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(output)?.[1];
  if (!rps || !p50 || !p99) throw new Error(`unreadable wrk output:\n${output}`);
  return { requestsPerSecond: Number(rps), p50Ms: durationMs(p50), p99Ms: durationMs(p99) };
}

// Asynchronous on purpose: the baseline server lives in this process and must keep serving.
export function wrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, "--latency"];
  for (const header of options.headers ?? []) args.push("-H", header);
  if (options.script) args.push("-s", options.script);
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

/** A warm-up run whose figures are dropped, then the measured run. */
export async function measure(url: string, warmupS: number, options: WrkOptions): Promise<WrkResult> {
  await wrk(url, { ...options, seconds: warmupS });
  return wrk(url, options);
}

export interface Contender {
  name: string;
  url: string;
  options: WrkOptions;
}

/**
 * Measures the contenders in turn, `rounds` times over, and keeps each one's median round. On a shared
 * machine the load changes from second to second; alternating short runs exposes every contender to
 * the same changes, where one long run each would hand a busy spell to whichever ran then.
 */
export async function measureAlternating(
  contenders: Contender[],
  rounds: number,
  warmupS: number,
): Promise<Map<string, WrkResult>> {
  for (const c of contenders) await wrk(c.url, { ...c.options, seconds: warmupS });
  const runs = new Map<string, WrkResult[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of contenders) runs.get(c.name)?.push(await wrk(c.url, c.options));
  }
  return new Map(
    [...runs].map(([name, results]) => {
      const sorted = [...results].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
      return [name, sorted[Math.floor(sorted.length / 2)] as WrkResult];
    }),
  );
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

/**
 * Serves `body` to every request once the request's own body has arrived (a POST handler has to
 * read it), with the same keep-alive timeout as Strongroom's server.
 */
export async function startBareServer(body: Buffer): Promise<BareServer> {
  const headers = { "content-type": "application/json; charset=utf-8", "content-length": body.length };
  const server = createServer({ ...(await selfSignedP256()), minVersion: "TLSv1.2" }, (req, res) => {
    req.resume();
    req.once("end", () => {
      res.writeHead(200, headers);
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => server.close(),
  };
}

/**
 * The framework's floor: a Fastify server (as Strongroom's, with TLS and a parsed JSON body) whose
 * one route answers every request with `body`, so a run shows how much of the gap to the bare server
 * is Fastify's own and how much is Strongroom's work.
 */
export async function startBareFastifyServer(body: Buffer): Promise<BareServer> {
  const app = Fastify({
    https: { ...(await selfSignedP256()), minVersion: "TLSv1.2" },
    keepAliveTimeout: 65_000,
  });
  app.route({
    method: ["GET", "POST"],
    url: "/*",
    handler: (_request, reply) => {
      reply.header("content-type", "application/json; charset=utf-8").send(body);
    },
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    port: (app.server.address() as AddressInfo).port,
    close: () => void app.close(),
  };
}

/** An access token for the bootstrap admin, by the client-credentials grant. */
export async function fetchToken(origin: string, admin: AdminCredentials, ca: string): Promise<string> {
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

export function formatResult(name: string, result: WrkResult): string {
  const rps = result.requestsPerSecond.toFixed(0).padStart(7);
  return `${name.padEnd(12)} ${rps} req/s   p50 ${result.p50Ms.toFixed(2)} ms   p99 ${result.p99Ms.toFixed(2)} ms`;
}
