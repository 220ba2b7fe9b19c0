/**
 * Certificates per second through EST `simpleenroll` (RFC 7030: base64 PKCS#10 in, base64 certs-only
 * PKCS#7 out) authenticated by a TLS client certificate and by HTTP Basic, beside the admin API's
 * `POST /admin/cas/{ca}/sign` with a bearer token as the baseline: the same CA (EC P-256), the same
 * CSRs, the same number in flight over keep-alive HTTPS, in one run. It shows what EST's framing and
 * its two ways of authenticating cost over the CA's own signing path. Run with `npm run bench:est`.
 */
import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { webcrypto } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { runCli } from "../test/support/cli.js";
import { opensslCsr } from "../test/support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";
import { fetchToken } from "./support.js";

const IN_FLIGHT = 8;
const WARMUP_S = 2;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const CSRS = 300;

async function makeCsrs(count: number): Promise<Buffer[]> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const out: Buffer[] = [];
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
    out.push(Buffer.from(csr.rawData));
  }
  return out;
}

type Post = (body: string) => Promise<{ status: number; body: string }>;

function poster(url: string, headers: Record<string, string>, agent: Agent): Post {
  return (body) =>
    new Promise((resolve, reject) => {
      const req = request(url, { method: "POST", headers, agent }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
}

async function drive(post: Post, bodies: string[], seconds: number, ok: number): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const res = await post(bodies[next++ % bodies.length] as string);
      if (res.status !== ok) throw new Error(`answered HTTP ${res.status}: ${res.body}`);
      done += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return done / ((Date.now() - started) / 1000);
}

async function main(): Promise<number> {
  const data = tempDataDir();
  let server: ServerProcess | undefined;
  try {
    const csrs = await makeCsrs(CSRS);
    const dir = join(data.dir, "server");
    server = await startServerProcess(dir);
    const cli = (...args: string[]) => {
      const r = runCli([...args, "--data-dir", dir]);
      if (r.code !== 0) throw new Error(`strongroom ${args.join(" ")}: ${r.stderr}`);
    };
    cli("ca", "create-root", "bench-root", "--subject", "CN=Bench Root");
    cli("est", "create", "bench", "--ca", "bench-root", "--validity-days", "30");
    const origin = `https://127.0.0.1:${server.port}`;
    const { admin, ca } = server;
    const basic = `Basic ${Buffer.from(`${admin.clientId}:${admin.clientSecret}`).toString("base64")}`;
    const estUrl = `${origin}/.well-known/est/bench/simpleenroll`;
    const estHeaders = { "content-type": "application/pkcs10" };

    // The client certificate: enrolled once with Basic, unwrapped from its PKCS#7 by openssl.
    const file = (name: string) => join(data.dir, name);
    opensslCsr(file("client.key"), file("client.csr"), "/CN=bench-client", "DNS:bench-client");
    const csrDer = execFileSync("openssl", ["req", "-in", file("client.csr"), "-outform", "DER"]);
    const plain = new Agent({ keepAlive: true, ca });
    const first = await poster(
      estUrl,
      { ...estHeaders, authorization: basic },
      plain,
    )(csrDer.toString("base64"));
    writeFileSync(file("client.p7"), Buffer.from(first.body, "base64"));
    execFileSync("openssl", [
      "pkcs7",
      "-inform",
      "DER",
      "-in",
      file("client.p7"),
      "-print_certs",
      "-out",
      file("client.pem"),
    ]);
    const withCert = new Agent({
      keepAlive: true,
      ca,
      cert: readFileSync(file("client.pem")),
      key: readFileSync(file("client.key")),
    });

    const authorization = `Bearer ${await fetchToken(origin, admin, ca)}`;
    const contenders = [
      {
        name: "admin sign (baseline)",
        post: poster(
          `${origin}/admin/cas/bench-root/sign`,
          { authorization, "content-type": "application/json" },
          plain,
        ),
        bodies: csrs.map((c) => JSON.stringify({ csr: c.toString("base64"), validityDays: 30 })),
        ok: 201,
      },
      {
        name: "EST, client certificate",
        post: poster(estUrl, estHeaders, withCert),
        bodies: csrs.map((c) => c.toString("base64")),
        ok: 200,
      },
      {
        name: "EST, HTTP Basic",
        post: poster(estUrl, { ...estHeaders, authorization: basic }, plain),
        bodies: csrs.map((c) => c.toString("base64")),
        ok: 200,
      },
    ];
    console.log(
      `${IN_FLIGHT} in flight over keep-alive HTTPS, ${WARMUP_S} s warm-up + ${DURATION_S} s each, EC P-256 CA`,
    );
    const rates: number[] = [];
    for (const c of contenders) {
      await drive(c.post, c.bodies, WARMUP_S, c.ok);
      const rate = await drive(c.post, c.bodies, DURATION_S, c.ok);
      rates.push(rate);
      console.log(`${c.name.padEnd(24)} ${rate.toFixed(0).padStart(6)} certificates/s`);
    }
    const [baseline = 1] = rates;
    for (const [i, c] of contenders.entries())
      if (i > 0) console.log(`ratio ${c.name} / admin sign: ${((rates[i] ?? 0) / baseline).toFixed(2)}`);
    return 0;
  } finally {
    await server?.stop();
    data.remove();
  }
}

process.exitCode = await main();
