/**
 * Self-signed EC P-256 certificates created per second through the API (create, poll the pending
 * operation, fetch the certificate) against the same key generation and certificate build done
 * in-process with the same libraries, in one run. The ratio is the cost of HTTP, storage (three
 * objects in one transaction) and audit. Run with `npm run bench:cert-create`.
 */
import "reflect-metadata";
import { existsSync } from "node:fs";
import { Agent, request } from "node:https";
import { createAesGcmSealer } from "../src/crypto/aes-gcm-sealer.js";
import { masterKeyFrom } from "../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../src/crypto/software-key-protector.js";
import { createX509Factory } from "../src/crypto/x509-factory.js";
import { normalizePolicy } from "../src/domain/certificates/policy.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";
import { fetchToken } from "./support.js";

// Enough requests in flight to keep both the thread pool (key generation) and the event loop busy.
const CONCURRENCY = 8;
const WARMUP_S = 2;
const ROUND_S = 4;
const ROUNDS = 3;
const TARGET_RATIO = 0.5;
const V = "api-version=7.6";

const POLICY = {
  issuer: { name: "Self" },
  key_props: { kty: "EC", crv: "P-256" },
  x509_props: { subject: "CN=bench.example", sans: { dns_names: ["bench.example"] } },
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Runs `once` from CONCURRENCY loops for `seconds` and returns completions per second. */
async function rate(seconds: number, once: (i: number) => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let counter = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await once(counter++);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

function client(origin: string, ca: string, authorization: string) {
  const agent = new Agent({ ca, keepAlive: true, maxSockets: CONCURRENCY });
  const call = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${origin}${path}`,
        {
          method,
          agent,
          headers: { authorization, ...(payload !== undefined && { "content-type": "application/json" }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString() || "{}"),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  return { call, close: () => agent.destroy() };
}

async function main(): Promise<number> {
  if (!existsSync(new URL("../dist/cli/main.js", import.meta.url))) {
    console.error("dist/ is missing: run `npm run build` first (npm run bench:cert-create does).");
    return 1;
  }
  const data = tempDataDir();
  let server: ServerProcess | undefined;
  try {
    server = await startServerProcess(data.dir);
    const origin = `https://127.0.0.1:${server.port}`;
    const api = client(origin, server.ca, `Bearer ${await fetchToken(origin, server.admin, server.ca)}`);
    const createOne = async (i: number) => {
      const name = `bench-${i}`;
      const created = await api.call("POST", `/certificates/${name}/create?${V}`, { policy: POLICY });
      if (created.status !== 202)
        throw new Error(`create: HTTP ${created.status} ${JSON.stringify(created.json)}`);
      let status = created.json.status;
      while (status === "inProgress")
        status = (await api.call("GET", `/certificates/${name}/pending?${V}`)).json.status;
      if (status !== "completed") throw new Error(`operation ended ${String(status)}`);
      const fetched = await api.call("GET", `/certificates/${name}/?${V}`);
      if (fetched.status !== 200) throw new Error(`get: HTTP ${fetched.status}`);
    };

    const protector = createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(Buffer.alloc(32, 7))));
    const x509 = createX509Factory();
    const policy = normalizePolicy({
      issuer: { name: "Self" },
      key: { kty: "EC", curve: "P-256" },
      subject: "CN=bench.example",
      sans: { dnsNames: ["bench.example"] },
    });
    const buildOne = async (i: number) => {
      const context = `bench/${i}`;
      const key = await protector.generate({ kind: "EC", protection: "software", curve: "P-256" }, context);
      const signer = { publicKey: key.publicKey, sign: protector.sign.bind(null, key.material, context) };
      await x509.selfSigned(policy, signer, new Date());
    };

    console.log(
      `${CONCURRENCY} concurrent, ${WARMUP_S} s warm-up each, then ${ROUNDS} alternating rounds of ${ROUND_S} s; median round`,
    );
    await rate(WARMUP_S, (i) => createOne(100_000_000 + i));
    await rate(WARMUP_S, buildOne);
    // Alternating short rounds expose both sides to the same changes in the machine's load.
    const apiRounds: number[] = [];
    const localRounds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      apiRounds.push(await rate(ROUND_S, (i) => createOne(round * 1_000_000 + i)));
      localRounds.push(await rate(ROUND_S, buildOne));
    }
    const api_rate = median(apiRounds);
    const local = median(localRounds);
    console.log(`through the API  ${api_rate.toFixed(0).padStart(6)} certificates/s (create, poll, fetch)`);
    console.log(
      `in-process       ${local.toFixed(0).padStart(6)} certificates/s (key + self-signed certificate)`,
    );
    const ratio = api_rate / local;
    console.log(
      `ratio API/in-process: ${ratio.toFixed(2)} (target >= ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? "met" : "NOT met"}`,
    );
    api.close();
    return 0;
  } finally {
    await server?.stop();
    data.remove();
  }
}

process.exitCode = await main();
