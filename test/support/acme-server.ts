import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { toPem } from "../../src/crypto/pem.js";
import type { AcmeProfileInput } from "../../src/domain/acme-server/acme-profile-service.js";
import type { Clock } from "../../src/domain/clock.js";
import type { IssuanceGate } from "../../src/domain/rules/issuance-gate.js";
import type { AccountKey, AcmeClient } from "./acme-client.js";
import { type InProcess, startInProcess } from "./in-process.js";
import { type ChallTestSrv, freePort, startChallTestSrv } from "./pebble.js";

/** Strongroom in this process with an ACME profile, validating against pebble-challtestsrv's DNS. */
export interface AcmeServerUnderTest {
  server: InProcess;
  dns: ChallTestSrv;
  /** Where clients answer http-01 and tls-alpn-01: the ports the server validates against. */
  httpPort: number;
  tlsPort: number;
  work: string;
  /** PEM file of the CA's root, for openssl verify. */
  rootFile: string;
  /** PEM file of the HTTPS listener's CA, for clients to trust. */
  tlsCaFile: string;
  directory(profile: string): string;
  stop(): Promise<void>;
}

export async function startAcmeServer(
  profiles: Record<string, AcmeProfileInput>,
  options: { database?: string; gate?: IssuanceGate; masterKey?: string; clock?: Clock } = {},
): Promise<AcmeServerUnderTest> {
  const work = mkdtempSync(join(tmpdir(), "strongroom-acme-server-"));
  const dns = await startChallTestSrv();
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const server = await startInProcess({
    ...(options.database && { database: options.database }),
    ...(options.gate && { gate: options.gate }),
    ...(options.clock && { clock: options.clock }),
    flags: {
      jobs: false,
      acmeValidationHttpPort: httpPort,
      acmeValidationTlsPort: tlsPort,
      acmeValidationResolver: dns.dnsServer,
      ...(options.masterKey && { masterKey: options.masterKey }),
    },
  });
  const core = server.strongroom.core;
  const root = await core.ca.createRoot({ name: "acme-root", subject: "CN=ACME Test Root" });
  for (const [name, input] of Object.entries(profiles))
    await core.acmeProfiles.create(name, { ca: root.id, ...input });
  const rootFile = join(work, "root.pem");
  writeFileSync(rootFile, toPem("CERTIFICATE", root.certificate as Buffer));
  return {
    server,
    dns,
    httpPort,
    tlsPort,
    work,
    rootFile,
    tlsCaFile: server.strongroom.admin.caFile as string,
    directory: (profile) => `https://127.0.0.1:${server.strongroom.port}/acme/${profile}/directory`,
    async stop() {
      await server.stop();
      await dns.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Runs a client without blocking: the server under test answers it from this process. */
export async function runClient(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; output: string }> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, timeout: 120_000 });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { status, output };
}

/** openssl, asynchronously (OCSP asks the responder in this process). */
export async function openssl(cwd: string, ...args: string[]): Promise<string> {
  return (await promisify(execFile)("openssl", args, { cwd })).stdout;
}

/** The OCSP status line of `cert` from the responder its AIA names. */
export async function ocspStatus(
  cwd: string,
  cert: string,
  issuer: string,
  rootFile: string,
): Promise<string> {
  const url = (await openssl(cwd, "x509", "-in", cert, "-noout", "-ocsp_uri")).trim();
  return openssl(cwd, "ocsp", "-issuer", issuer, "-cert", cert, "-url", url, "-CAfile", rootFile);
}

/**
 * An http-01 responder on the port the server validates against, answering the tokens in `answers`,
 * each after the milliseconds `delays` gives it (none by default), and counting the requests for
 * each token in `hits`.
 */
export async function startHttp01Responder(port: number): Promise<{
  answers: Map<string, string>;
  delays: Map<string, number>;
  hits: Map<string, number>;
  close(): Promise<void>;
}> {
  const answers = new Map<string, string>();
  const delays = new Map<string, number>();
  const hits = new Map<string, number>();
  const responder = createServer((request, response) => {
    const token = (request.url ?? "").split("/").pop() ?? "";
    hits.set(token, (hits.get(token) ?? 0) + 1);
    setTimeout(() => {
      const answer = answers.get(token);
      response.statusCode = answer ? 200 : 404;
      response.end(answer ?? "");
    }, delays.get(token) ?? 0);
  });
  await new Promise<void>((resolve) => responder.listen(port, "127.0.0.1", resolve));
  return {
    answers,
    delays,
    hits,
    close: () => new Promise<void>((resolve) => responder.close(() => resolve())),
  };
}

/**
 * Answers the http-01 challenge of each of the order's pending authorizations and polls the order
 * until it leaves pending; returns the order as it then is.
 */
export async function validateOrder(
  client: AcmeClient,
  answers: Map<string, string>,
  orderUrl: string,
  key: AccountKey,
  kid: string,
  // biome-ignore lint/suspicious/noExplicitAny: an ACME order object
): Promise<any> {
  const placed = (await client.post(orderUrl, key, undefined, { kid })).json();
  for (const authzUrl of placed.authorizations as string[]) {
    const authz = (await client.post(authzUrl, key, undefined, { kid })).json();
    if (authz.status !== "pending") continue;
    const challenge = authz.challenges.find((c: { type: string }) => c.type === "http-01");
    answers.set(challenge.token, client.keyAuthorization(challenge.token, key));
    const answered = await client.post(challenge.url, key, {}, { kid });
    if (answered.status !== 200) throw new Error(`answering ${challenge.url}: ${answered.body}`);
  }
  for (let round = 0; round < 100; round++) {
    const current = (await client.post(orderUrl, key, undefined, { kid })).json();
    if (current.status !== "pending") return current;
    await sleep(50);
  }
  throw new Error("the order stayed pending");
}
