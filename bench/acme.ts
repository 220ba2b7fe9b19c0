/**
 * Complete ACME orders per second (account reused; new order, http-01 validation, finalize with a
 * fresh CSR, download) against Strongroom's ACME server on SQLite and against pebble with
 * PEBBLE_VA_NOSLEEP=1, with the same client code (test/support/acme-client.ts) and the same number
 * of orders in flight, in one run. Both validate http-01 against one responder in this process and
 * resolve names through one pebble-challtestsrv. The servers take turns (BENCH_ROUNDS) so that a
 * shared machine's changing load falls on both, and each one's CPU time per order is reported
 * beside the rate: on a busy machine it is the steadier figure. So is this process's own CPU per
 * order: the client is one thread, and once it needs a whole core it caps both servers' rates. The
 * last line says, from this run's figures, how much of the machine the target would take.
 * Run with `npm run bench:acme`.
 */

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { availableParallelism } from "node:os";
import {
  type AccountKey,
  type AcmeClient,
  accountKey,
  createAcmeClient,
  csrFor,
} from "../test/support/acme-client.js";
import { runCli } from "../test/support/cli.js";
import { freePort, startChallTestSrv, startPebble } from "../test/support/pebble.js";
import { startServerProcess, tempDataDir } from "../test/support/server-process.js";

const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);
const WARMUP_ORDERS = 8;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 15);
const POLL_MS = 20;
const ORDER_DEADLINE_MS = 60_000;
const TARGET = 2;
/** Strongroom processes sharing the port; pebble, a Go program, uses every core as it is. */
const WORKERS = process.env.BENCH_WORKERS ?? "1";
/** Turns each server takes, alternating, within BENCH_SECONDS each. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const answers = new Map<string, string>();

async function until(
  client: AcmeClient,
  url: string,
  key: AccountKey,
  kid: string,
  done: (s: string) => boolean,
) {
  for (;;) {
    const body = (await client.post(url, key, undefined, { kid })).json();
    if (done(body.status)) return body;
    await sleep(POLL_MS);
  }
}

let sequence = 0;

/** One whole order; throws unless it ends with a certificate. */
async function completeOrder(client: AcmeClient, key: AccountKey, kid: string): Promise<void> {
  const name = `o${sequence++}-${process.pid}.bench.test`;
  const dir = await client.directory();
  const placed = await client.post(
    dir.newOrder as string,
    key,
    { identifiers: [{ type: "dns", value: name }] },
    { kid },
  );
  if (placed.status !== 201) throw new Error(`newOrder: ${placed.status} ${placed.body}`);
  const orderUrl = placed.headers.location as string;
  const order = placed.json();
  const authz = (await client.post(order.authorizations[0], key, undefined, { kid })).json();
  const challenge = authz.challenges.find((c: { type: string }) => c.type === "http-01");
  answers.set(challenge.token, client.keyAuthorization(challenge.token, key));
  await client.post(challenge.url, key, {}, { kid });
  const ready = await until(client, orderUrl, key, kid, (s) => s !== "pending");
  answers.delete(challenge.token);
  if (ready.status !== "ready") throw new Error(`order ${ready.status}: ${JSON.stringify(ready)}`);
  const finalized = await client.post(order.finalize, key, { csr: await csrFor([name]) }, { kid });
  if (finalized.status !== 200) throw new Error(`finalize: ${finalized.status} ${finalized.body}`);
  const valid =
    finalized.json().status === "valid"
      ? finalized.json()
      : await until(client, orderUrl, key, kid, (s) => s !== "processing");
  if (valid.status !== "valid") throw new Error(`order ${valid.status}`);
  const certificate = await client.post(valid.certificate, key, undefined, { kid });
  if (!certificate.body.includes("BEGIN CERTIFICATE")) throw new Error("no certificate");
}

/**
 * An order that has not completed by then is stuck (a run once waited for ever on a reply from
 * pebble that never came): fail the run rather than hang.
 */
async function withDeadline(order: Promise<void>, label: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label}: an order took over ${ORDER_DEADLINE_MS / 1000} s`)),
      ORDER_DEADLINE_MS,
    );
  });
  try {
    await Promise.race([order, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

/** CPU time a process has used so far, ms (Linux: /proc/<pid>/stat utime + stime, in clock ticks). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS + childrenCpuMs(pid);
}

/**
 * CPU of a process's running children, ms: with BENCH_WORKERS above 1 Strongroom's workers are
 * children of the process started, and a parent's own figures count a child only once it has ended.
 */
function childrenCpuMs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let children = "";
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8");
    } catch {
      // A thread that ended between the listing and the read has no children to count.
    }
    for (const child of children.split(" ").filter(Boolean)) {
      try {
        total += cpuMs(Number(child));
      } catch {
        // A child that ended meanwhile goes uncounted: workers live as long as the server does.
      }
    }
  }
  return total;
}

interface Tally {
  orders: number;
  seconds: number;
  cpuMs: number;
  /** This process's CPU (the client, its http-01 responder): one thread, so it caps the rate too. */
  clientCpuMs: number;
}

/** CPU this process has used so far, ms. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** A server under measurement: its client, an account made and warmed up, its process. */
async function prepare(
  label: string,
  client: AcmeClient,
  pid: number,
  eab?: { keyId: string; hmacKey: string },
) {
  const key = await accountKey("ES256");
  const dir = await client.directory();
  const payload = {
    termsOfServiceAgreed: true,
    ...(eab && { externalAccountBinding: await client.externalAccountBinding(key, eab.keyId, eab.hmacKey) }),
  };
  const account = await client.post(dir.newAccount as string, key, payload);
  if (account.status !== 201) throw new Error(`${label} newAccount: ${account.status} ${account.body}`);
  const kid = account.headers.location as string;
  await Promise.all(Array.from({ length: WARMUP_ORDERS }, () => completeOrder(client, key, kid)));
  const total: Tally = { orders: 0, seconds: 0, cpuMs: 0, clientCpuMs: 0 };
  return {
    label,
    total,
    /** CPU the process has used so far, ms: read around all rounds, it includes background work. */
    cpu: () => cpuMs(pid),
    /** Orders completed in `seconds` with IN_FLIGHT in flight, added to the total. */
    async run(seconds: number): Promise<Tally> {
      let orders = 0;
      const cpuBefore = cpuMs(pid);
      const clientBefore = ownCpuMs();
      const started = Date.now();
      const end = started + seconds * 1000;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (Date.now() < end) {
            await withDeadline(completeOrder(client, key, kid), label);
            orders += 1;
          }
        }),
      );
      const round = {
        orders,
        seconds: (Date.now() - started) / 1000,
        cpuMs: cpuMs(pid) - cpuBefore,
        clientCpuMs: ownCpuMs() - clientBefore,
      };
      total.orders += round.orders;
      total.seconds += round.seconds;
      total.cpuMs += round.cpuMs;
      total.clientCpuMs += round.clientCpuMs;
      return round;
    },
  };
}

const perSecond = (t: Tally) => t.orders / t.seconds;
const cpuPerOrder = (t: Tally) => t.cpuMs / t.orders;
const line = (label: string, t: Tally) =>
  `${label}: ${t.orders} orders in ${t.seconds.toFixed(1)} s = ${perSecond(t).toFixed(1)} orders/s, ${cpuPerOrder(t).toFixed(1)} ms of server CPU per order, ${(t.clientCpuMs / t.orders).toFixed(1)} ms of client CPU`;

const httpPort = await freePort();
const responder = createServer((request, response) => {
  const answer = answers.get((request.url ?? "").split("/").pop() ?? "");
  response.statusCode = answer ? 200 : 404;
  response.end(answer ?? "");
});
await new Promise<void>((resolve) => responder.listen(httpPort, "127.0.0.1", resolve));
const dns = await startChallTestSrv();
const data = tempDataDir();
// Set up inside the try: a CLI step that fails must not leave pebble-challtestsrv running.
let server: Awaited<ReturnType<typeof startServerProcess>> | undefined;
let pebble: Awaited<ReturnType<typeof startPebble>> | undefined;
try {
  const cli = (...args: string[]) => {
    const result = runCli([...args, "--data-dir", data.dir]);
    if (result.code !== 0) throw new Error(`strongroom ${args.join(" ")}: ${result.stderr}`);
  };
  cli("ca", "create-root", "bench-root", "--subject", "CN=ACME Bench Root", "--key", "EC-P256");
  cli(
    "acme-profile",
    "create",
    "bench",
    "--ca",
    "bench-root",
    "--orders-per-account",
    "1000000",
    "--orders-per-identifier",
    "1000000",
  );
  server = await startServerProcess(
    data.dir,
    ["--workers", WORKERS],
    {
      STRONGROOM_ACME_VALIDATION_HTTP_PORT: String(httpPort),
      STRONGROOM_ACME_VALIDATION_RESOLVER: dns.dnsServer,
    },
    process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [],
  );
  pebble = await startPebble({ httpPort });
  console.log(
    `in flight: ${IN_FLIGHT}, ${DURATION_S} s each, poll every ${POLL_MS} ms, strongroom workers: ${WORKERS}`,
  );
  const strongroomClient = createAcmeClient({
    directoryUrl: `https://127.0.0.1:${server.port}/acme/bench/directory`,
    ca: server.ca,
  });
  const pebbleClient = createAcmeClient({
    directoryUrl: pebble.directoryUrl,
    ca: readFileSync(pebble.tlsCaFile, "utf8"),
  });
  const servers = [
    await prepare("pebble (PEBBLE_VA_NOSLEEP=1)", pebbleClient, pebble.pid, pebble.eab),
    await prepare(`strongroom (SQLite, ${WORKERS} workers)`, strongroomClient, server.pid),
  ];
  // Rounds take turns, so that a change in the machine's load falls on both servers alike.
  const cpuAtStart = servers.map((s) => s.cpu());
  for (let round = 1; round <= ROUNDS; round++)
    for (const s of servers) console.log(`round ${round} ${line(s.label, await s.run(DURATION_S / ROUNDS))}`);
  // A server's work for its orders need not happen in its own turns (Strongroom's scheduled jobs
  // project and grade its certificates every few seconds): its CPU over all rounds, both servers'
  // turns, per order it completed, counts that too.
  const cpuOverAll = servers.map((s, i) => (s.cpu() - (cpuAtStart[i] ?? 0)) / s.total.orders);
  strongroomClient.close();
  pebbleClient.close();
  const [baseline, ours] = servers.map((s) => s.total) as [Tally, Tally];
  servers.forEach((s, i) => {
    console.log(`total ${line(s.label, s.total)}`);
    console.log(`  ${s.label}: ${cpuOverAll[i]?.toFixed(1)} ms of server CPU per order over all rounds`);
  });
  console.log(
    `ratio strongroom/pebble: ${(perSecond(ours) / perSecond(baseline)).toFixed(2)} orders/s (target >= ${TARGET}); ` +
      `${(cpuPerOrder(baseline) / cpuPerOrder(ours)).toFixed(2)} by server CPU per order`,
  );
  // Whether the target fits this machine at all, from this run's own figures: the client is one
  // thread, so a share near 1 means pebble's rate was the client's limit; and at TARGET × pebble's
  // rate, Strongroom and the client share the cores there are.
  const clientShare = (t: Tally) => t.clientCpuMs / (t.seconds * 1000);
  const goal = TARGET * perSecond(baseline);
  const perOrder = (cpuOverAll[1] ?? 0) + ours.clientCpuMs / ours.orders;
  console.log(
    `client thread busy ${(100 * clientShare(baseline)).toFixed(0)} % of pebble's turns, ` +
      `${(100 * clientShare(ours)).toFixed(0)} % of Strongroom's; at ${goal.toFixed(1)} orders/s ` +
      `(${TARGET} × pebble) Strongroom and the client would need ${((goal * perOrder) / 1000).toFixed(2)} ` +
      `cores (${perOrder.toFixed(1)} ms per order) of the ${availableParallelism()} here`,
  );
} finally {
  await server?.stop();
  await pebble?.stop();
  await dns.stop();
  responder.close();
  data.remove();
}
