/**
 * Certificates signed per second from CSRs through Strongroom's admin API (`POST
 * /admin/cas/{ca}/sign`: CSR checked, name constraints, certificate signed, stored with its status,
 * audited, OCSP answer pre-signed), beside `cfssl serve`'s `/api/v1/cfssl/sign` with a CA key of the
 * same type (EC P-256), both over keep-alive HTTP from this process with the same CSRs and the same
 * number in flight, in one run. Run with `npm run bench:ca-sign`.
 */
import "reflect-metadata";
import { type ChildProcess, spawn } from "node:child_process";
import { webcrypto } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { opensslSelfSigned } from "../test/support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";
import { expectOk, fetchToken, send } from "./support.js";

const IN_FLIGHT = 8;
const WARMUP_S = 2;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CSRS = 500;
const TARGET = 1.5;

/** Distinct P-256 CSRs with a DNS SAN, made once and sent to both signers. */
async function makeCsrs(count: number): Promise<string[]> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const keys = (await webcrypto.subtle.generateKey(alg, false, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=host${i}.bench.example`,
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: `host${i}.bench.example` }]),
      ],
    });
    out.push(csr.toString("pem"));
  }
  return out;
}

type Post = (body: string) => Promise<number>;

function poster(url: string, headers: Record<string, string>, ca?: string): Post {
  const target = new URL(url);
  const https = target.protocol === "https:";
  const agent = https ? new HttpsAgent({ keepAlive: true, ca }) : new HttpAgent({ keepAlive: true });
  const request = https ? httpsRequest : httpRequest;
  return (body) =>
    new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: "POST", headers: { ...headers, "content-type": "application/json" }, agent },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
}

/** Signs for `seconds` with IN_FLIGHT requests at a time; returns signatures per second. */
async function drive(post: Post, bodies: string[], seconds: number, ok: number): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const status = await post(bodies[next++ % bodies.length] as string);
      if (status !== ok) throw new Error(`sign answered HTTP ${status}`);
      done += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return done / ((Date.now() - started) / 1000);
}

async function startCfssl(dir: string): Promise<{ port: number; child: ChildProcess }> {
  opensslSelfSigned(join(dir, "cfssl-ca.key"), join(dir, "cfssl-ca.pem"), "/CN=cfssl bench CA", { days: 30 });
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    "cfssl",
    [
      "serve",
      "-address",
      "127.0.0.1",
      "-port",
      String(port),
      "-ca",
      "cfssl-ca.pem",
      "-ca-key",
      "cfssl-ca.key",
      "-loglevel",
      "5",
    ],
    {
      cwd: dir,
      // Its log is not read: a pipe nobody drains would block it once full.
      stdio: "ignore",
    },
  );
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const up = await fetch(`http://127.0.0.1:${port}/api/v1/cfssl/sign`, { method: "POST", body: "{}" }).then(
      () => true,
      () => false,
    );
    if (up) return { port, child };
  }
  child.kill();
  throw new Error("cfssl serve did not start (apt-get install -y golang-cfssl)");
}

async function main(): Promise<number> {
  const data = tempDataDir();
  let strongroom: ServerProcess | undefined;
  let cfssl: ChildProcess | undefined;
  try {
    const csrs = await makeCsrs(CSRS);
    strongroom = await startServerProcess(join(data.dir, "server"));
    const { admin, ca } = strongroom;
    const origin = `https://127.0.0.1:${strongroom.port}`;
    const authorization = `Bearer ${await fetchToken(origin, admin, ca)}`;
    const create = async (body: unknown) =>
      expectOk(
        "CA create",
        await send(`${origin}/admin/cas`, ca, {
          method: "POST",
          headers: { authorization, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
    await create({ name: "bench-root", kind: "root", subject: "CN=Bench Root" });
    await create({
      name: "bench-issuing",
      kind: "intermediate",
      parent: "bench-root",
      subject: "CN=Bench Issuing",
      validityDays: 365,
    });
    const ours = poster(`${origin}/admin/cas/bench-issuing/sign`, { authorization }, ca);
    const ourBodies = csrs.map((csr) => JSON.stringify({ csr, validityDays: 30 }));

    const started = await startCfssl(data.dir);
    cfssl = started.child;
    const theirs = poster(`http://127.0.0.1:${started.port}/api/v1/cfssl/sign`, {});
    const theirBodies = csrs.map((csr) => JSON.stringify({ certificate_request: csr }));

    console.log(
      `${IN_FLIGHT} in flight over keep-alive, ${WARMUP_S} s warm-up + ${DURATION_S} s each, EC P-256 CA keys`,
    );
    await drive(ours, ourBodies, WARMUP_S, 201);
    const strongroomRate = await drive(ours, ourBodies, DURATION_S, 201);
    console.log(`strongroom  ${strongroomRate.toFixed(0).padStart(6)} certificates/s (stored, audited)`);
    await drive(theirs, theirBodies, WARMUP_S, 200);
    const cfsslRate = await drive(theirs, theirBodies, DURATION_S, 200);
    console.log(`cfssl serve ${cfsslRate.toFixed(0).padStart(6)} certificates/s`);
    console.log(`ratio strongroom/cfssl: ${(strongroomRate / cfsslRate).toFixed(2)} (target >= ${TARGET})`);
    return 0;
  } finally {
    cfssl?.kill();
    await strongroom?.stop();
    data.remove();
  }
}

process.exitCode = await main();
