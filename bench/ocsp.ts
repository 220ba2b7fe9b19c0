/**
 * OCSP responses per second from a real Strongroom process (pre-signed answers, plain HTTP), beside
 * `openssl ocsp -port` answering for the same number of certificates from its index file, and a bare
 * node:http server returning a body of the same size, all driven the same way in this run: 4 clients,
 * each POSTing over a new connection per request (`Connection: close`), as openssl's responder does
 * not keep connections alive. The clients run in this process.
 * Run with `npm run bench:ocsp`.
 */
import "reflect-metadata";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";
import { expectOk, fetchToken, send } from "./support.js";

const CLIENTS = 4;
const WARMUP_S = 2;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CERTIFICATES = 100;
const OPENSSL_TARGET = 3;
const BARE_TARGET = 0.7;

interface Rate {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** One POST over a fresh connection; resolves with the status once the whole answer arrived. */
function postOnce(url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/ocsp-request",
          "content-length": body.length,
          connection: "close",
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** CLIENTS loops POSTing `body` for `seconds`: requests per second and latency percentiles. */
async function drive(url: string, body: Buffer, seconds: number): Promise<Rate> {
  const target = new URL(url);
  const until = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  const client = async () => {
    while (Date.now() < until) {
      const started = performance.now();
      const status = await postOnce(target, body);
      if (status !== 200) throw new Error(`${url} answered HTTP ${status}`);
      latencies.push(performance.now() - started);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requestsPerSecond: latencies.length / ((Date.now() - started) / 1000),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

async function measure(url: string, body: Buffer): Promise<Rate> {
  await drive(url, body, WARMUP_S);
  return drive(url, body, DURATION_S);
}

const format = (name: string, r: Rate) =>
  `${name.padEnd(12)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50Ms.toFixed(2)} ms   p99 ${r.p99Ms.toFixed(2)} ms`;

function openssl(dir: string, ...args: string[]): Buffer {
  return execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
}

/** An EC P-256 CA made by openssl, `count` leaves in its index, a request for the first one. */
function opensslCa(dir: string, count: number): { request: Buffer; index: string } {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ossl-ca.key",
    "-out",
    "ossl-ca.pem",
    "-subj",
    "/CN=openssl bench CA",
    "-days",
    "30",
  );
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    openssl(
      dir,
      "req",
      "-new",
      ...ec,
      "-keyout",
      "leaf.key",
      "-out",
      "leaf.csr",
      "-subj",
      `/CN=leaf${i}.bench`,
    );
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

async function main(): Promise<number> {
  const data = tempDataDir();
  let strongroom: ServerProcess | undefined;
  let responder: ChildProcess | undefined;
  let bare: ReturnType<typeof createServer> | undefined;
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
      openssl(
        data.dir,
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "sr.key",
        "-out",
        "sr.csr",
        "-subj",
        `/CN=leaf${i}.bench`,
      );
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

    bare = createServer((req, res) => {
      req.resume();
      req.once("end", () => {
        res.writeHead(200, { "content-type": "application/ocsp-response", "content-length": body.length });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => bare?.listen(0, "127.0.0.1", resolve));
    const barePort = (bare.address() as AddressInfo).port;

    console.log(
      `${CLIENTS} clients, a new connection per request, ${WARMUP_S} s warm-up + ${DURATION_S} s each`,
    );
    console.log(
      `POST /ocsp, ${request.length}-byte request, ${body.length}-byte response, ${CERTIFICATES} certificates per CA`,
    );
    const ours = await measure(ocspUrl, request);
    console.log(format("strongroom", ours));
    const theirs = await measure(`http://127.0.0.1:${started.port}/`, ossl.request);
    console.log(format("openssl", theirs));
    const baseline = await measure(`http://127.0.0.1:${barePort}/ocsp`, request);
    console.log(format("bare http", baseline));
    console.log(
      `ratio strongroom/openssl: ${(ours.requestsPerSecond / theirs.requestsPerSecond).toFixed(2)} (target >= ${OPENSSL_TARGET})`,
    );
    console.log(
      `ratio strongroom/bare: ${(ours.requestsPerSecond / baseline.requestsPerSecond).toFixed(2)} (target >= ${BARE_TARGET})`,
    );
    return 0;
  } finally {
    bare?.close();
    responder?.kill();
    await strongroom?.stop();
    data.remove();
  }
}

process.exitCode = await main();
