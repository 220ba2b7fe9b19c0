/**
 * OCSP responses per second from a real Strongroom process (pre-signed answers, plain HTTP), beside
 * `openssl ocsp -port` answering for the same number of certificates from its index file, a bare
 * node:http server in a process of its own returning the same bytes, and the machine's ceiling (a C
 * epoll server that answers the same bytes and does nothing else), all driven the same way in this
 * run: wrk with 4 connections and `Connection: close` (a new connection per request), as openssl's
 * responder does not keep connections alive.
 * Run with `npm run bench:ocsp`.
 */
import "reflect-metadata";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { opensslCsr, opensslSelfSigned } from "../test/support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";
import {
  expectOk,
  fetchToken,
  formatResult,
  measure,
  missingPrerequisite,
  send,
  type WrkOptions,
  wrk,
} from "./support.js";

const CONNECTIONS = 4;
// One wrk thread leaves the machine's other core to the servers.
const THREADS = 1;
const WARMUP_S = 2;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CERTIFICATES = 100;
const OPENSSL_TARGET = 3;
const BARE_TARGET = 0.7;

/**
 * A wrk script that POSTs `body` (Lua strings carry bytes as \ddd escapes) over a new connection per
 * request. It skips wrk's start-up probe (a connection opened and closed without a request), which
 * leaves openssl's single-threaded responder reading end-of-file forever.
 */
function postScript(dir: string, name: string, body: Buffer): string {
  const escaped = [...body].map((b) => `\\${b.toString().padStart(3, "0")}`).join("");
  const path = join(dir, `${name}.lua`);
  writeFileSync(
    path,
    [
      "function wrk.resolve(host, service)",
      "  wrk.addrs = wrk.lookup(host, service)",
      "end",
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "application/ocsp-request"',
      'wrk.headers["Connection"] = "close"',
      `wrk.body = "${escaped}"`,
      "",
    ].join("\n"),
  );
  return path;
}

function openssl(dir: string, ...args: string[]): Buffer {
  return execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
}

/** An EC P-256 CA made by openssl, `count` leaves in its index, a request for the first one. */
function opensslCa(dir: string, count: number): { request: Buffer; index: string } {
  opensslSelfSigned(join(dir, "ossl-ca.key"), join(dir, "ossl-ca.pem"), "/CN=openssl bench CA", { days: 30 });
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    opensslCsr(join(dir, "leaf.key"), join(dir, "leaf.csr"), `/CN=leaf${i}.bench`);
    const serial = `01${Buffer.from(String(i).padStart(16, "0")).toString("hex")}`;
    openssl(
      dir,
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ossl-ca.pem",
      "-CAkey",
      "ossl-ca.key",
      "-set_serial",
      `0x${serial}`,
      "-days",
      "30",
      "-out",
      `ossl-leaf${i}.pem`,
    );
    const expiry = new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/[-:T]/g, "").slice(2, 14);
    lines.push(`V\t${expiry}Z\t\t${serial.toUpperCase()}\tunknown\t/CN=leaf${i}.bench`);
  }
  writeFileSync(join(dir, "index.txt"), `${lines.join("\n")}\n`);
  openssl(
    dir,
    "ocsp",
    "-issuer",
    "ossl-ca.pem",
    "-cert",
    "ossl-leaf0.pem",
    "-no_nonce",
    "-reqout",
    "ossl-req.der",
  );
  return { request: readFileSync(join(dir, "ossl-req.der")), index: "index.txt" };
}

async function startOpensslResponder(
  dir: string,
  index: string,
): Promise<{ port: number; child: ChildProcess }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    "openssl",
    [
      "ocsp",
      "-port",
      String(port),
      "-index",
      index,
      "-CA",
      "ossl-ca.pem",
      "-rsigner",
      "ossl-ca.pem",
      "-rkey",
      "ossl-ca.key",
      "-nmin",
      "60",
    ],
    // It logs every request; a pipe nobody drains would block it once full.
    { cwd: dir, stdio: "ignore" },
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { port, child };
}

/** Starts `command`, which prints the port it listens on as its first line of output. */
async function startPrintingPort(
  command: string,
  args: string[],
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  const [first] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
  const port = Number.parseInt(first.toString(), 10);
  if (!Number.isInteger(port)) throw new Error(`${command} printed no port: ${first.toString()}`);
  // Later output is not read; draining keeps a full pipe from blocking the server.
  child.stdout?.resume();
  return { port, child };
}

/**
 * The bare node:http baseline, in a process of its own like Strongroom's responder, so it does not
 * share an event loop with this script.
 */
function startBareNode(bodyFile: string): Promise<{ port: number; child: ChildProcess }> {
  const script = `
    const body = require("node:fs").readFileSync(${JSON.stringify(bodyFile)});
    const headers = { "content-type": "application/ocsp-response", "content-length": body.length };
    const server = require("node:http").createServer((req, res) => {
      req.resume();
      req.once("end", () => { res.writeHead(200, headers); res.end(body); });
    });
    server.listen(0, "127.0.0.1", () => console.log(server.address().port));`;
  return startPrintingPort(process.execPath, ["-e", script]);
}

/** The C ceiling server, built here with the system compiler (node-gyp's toolchain has one). */
function startCeiling(dir: string, bodyFile: string): Promise<{ port: number; child: ChildProcess }> {
  const source = fileURLToPath(new URL("./ceiling/answer-and-close.c", import.meta.url));
  const binary = join(dir, "answer-and-close");
  execFileSync("cc", ["-O2", "-o", binary, source], { stdio: "inherit" });
  return startPrintingPort(binary, [bodyFile]);
}

async function main(): Promise<number> {
  const missing = missingPrerequisite("bench:ocsp");
  if (missing) {
    console.error(missing);
    return 1;
  }
  const data = tempDataDir();
  let strongroom: ServerProcess | undefined;
  let responder: ChildProcess | undefined;
  let bare: ChildProcess | undefined;
  let ceiling: ChildProcess | undefined;
  try {
    strongroom = await startServerProcess(join(data.dir, "server"));
    const { admin, ca } = strongroom;
    const origin = `https://127.0.0.1:${strongroom.port}`;
    const headers = {
      authorization: `Bearer ${await fetchToken(origin, admin, ca)}`,
      "content-type": "application/json",
    };
    const post = async (path: string, body: unknown) =>
      JSON.parse(
        expectOk(
          path,
          await send(`${origin}${path}`, ca, { method: "POST", headers, body: JSON.stringify(body) }),
        ).toString(),
      ) as Record<string, string>;
    await post("/admin/cas", { name: "bench-root", kind: "root", subject: "CN=Bench Root" });
    const issuing = await post("/admin/cas", {
      name: "bench-issuing",
      kind: "intermediate",
      parent: "bench-root",
      subject: "CN=Bench Issuing",
      validityDays: 365,
    });
    writeFileSync(join(data.dir, "issuing.pem"), issuing.certificate ?? "");
    for (let i = 0; i < CERTIFICATES; i++) {
      opensslCsr(join(data.dir, "sr.key"), join(data.dir, "sr.csr"), `/CN=leaf${i}.bench`);
      const signed = await post("/admin/cas/bench-issuing/sign", {
        csr: readFileSync(join(data.dir, "sr.csr"), "utf8"),
      });
      if (i === 0) writeFileSync(join(data.dir, "sr-leaf.pem"), signed.certificate ?? "");
    }
    openssl(
      data.dir,
      "ocsp",
      "-issuer",
      "issuing.pem",
      "-cert",
      "sr-leaf.pem",
      "-no_nonce",
      "-reqout",
      "sr-req.der",
    );
    const request = readFileSync(join(data.dir, "sr-req.der"));
    const ocspUrl = `${strongroom.pkiUrl}/ocsp`;
    const answer = await fetch(ocspUrl, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: request,
    });
    const body = Buffer.from(await answer.arrayBuffer());

    const ossl = opensslCa(data.dir, CERTIFICATES);
    const started = await startOpensslResponder(data.dir, ossl.index);
    responder = started.child;

    const bodyFile = join(data.dir, "answer.der");
    writeFileSync(bodyFile, body);
    const bareNode = await startBareNode(bodyFile);
    bare = bareNode.child;
    const top = await startCeiling(data.dir, bodyFile);
    ceiling = top.child;

    console.log(
      `wrk -t${THREADS} -c${CONNECTIONS}, Connection: close, ${WARMUP_S} s warm-up + ${DURATION_S} s each`,
    );
    console.log(
      `POST /ocsp, ${request.length}-byte request, ${body.length}-byte response, ${CERTIFICATES} certificates per CA`,
    );
    const options = (name: string, req: Buffer): WrkOptions => ({
      threads: THREADS,
      connections: CONNECTIONS,
      seconds: DURATION_S,
      script: postScript(data.dir, name, req),
    });
    const ours = await measure(ocspUrl, WARMUP_S, options("strongroom", request));
    console.log(formatResult("strongroom", ours));
    // No warm-up for openssl (nothing to warm up, being C): wrk closes connections it opened but did
    // not use when a run ends, and such a connection leaves openssl's responder stuck on it.
    const theirs = await wrk(`http://127.0.0.1:${started.port}/`, options("openssl", ossl.request));
    console.log(formatResult("openssl", theirs));
    const baseline = await measure(
      `http://127.0.0.1:${bareNode.port}/ocsp`,
      WARMUP_S,
      options("bare", request),
    );
    console.log(formatResult("bare http", baseline));
    const limit = await measure(`http://127.0.0.1:${top.port}/ocsp`, WARMUP_S, options("ceiling", request));
    console.log(formatResult("C ceiling", limit));
    console.log(
      `ratio strongroom/openssl: ${(ours.requestsPerSecond / theirs.requestsPerSecond).toFixed(2)} (target >= ${OPENSSL_TARGET})`,
    );
    console.log(
      `ratio strongroom/bare: ${(ours.requestsPerSecond / baseline.requestsPerSecond).toFixed(2)} (target >= ${BARE_TARGET})`,
    );
    console.log(
      `the machine's ceiling, C/openssl: ${(limit.requestsPerSecond / theirs.requestsPerSecond).toFixed(2)}; strongroom/C: ${(ours.requestsPerSecond / limit.requestsPerSecond).toFixed(2)}`,
    );
    return 0;
  } finally {
    bare?.kill();
    ceiling?.kill();
    responder?.kill();
    await strongroom?.stop();
    data.remove();
  }
}

process.exitCode = await main();
