/**
 * TLS endpoints scanned per second over one local fleet: Debian nginx with server blocks on
 * 127.0.x.y, each serving a leaf and its intermediate. Strongroom (a queued scan run by the discovery
 * job's code: scanner, results in SQLite, diff and inventory observations), `nmap --script ssl-cert`
 * and `sslscan --show-certificate` (each reading the certificate and its validity) scan the same
 * endpoints in turn, round after round, so a change in the machine's load falls on every tool alike;
 * each tool's output is checked to hold every endpoint's certificate. The fleet is scanned whole and
 * by its first 250 listeners (BENCH_FLEETS). Run with `npm run bench:discovery`; `BREAKDOWN=1` adds
 * where Strongroom's runs spent their time.
 */
import "reflect-metadata";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/config.js";
import { scanEndpoints } from "../src/discovery/tls-scanner.js";
import type { DiscoveryService } from "../src/domain/discovery/discovery-service.js";
import { drainServerRuns } from "../src/jobs/discovery-job.js";
import { openCore } from "../src/main.js";
import { freePort, startNginx } from "../test/support/nginx-fleet.js";
import { makeCertificate } from "../test/support/test-pki.js";

const FLEETS = (process.env.BENCH_FLEETS ?? "250,1000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = 128;
const TARGET_RATIO = 10;

function tool(name: string) {
  if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) {
    console.error(`bench:discovery needs ${name} (apt-get install -y ${name})`);
    process.exit(2);
  }
}

function timed(command: string, args: string[]): { seconds: number; stdout: string } {
  const started = performance.now();
  const run = spawnSync(command, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`${command} failed (${run.status}): ${run.stderr}`);
  return { seconds, stdout: run.stdout };
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const list = (values: readonly number[], digits = 0) => values.map((v) => v.toFixed(digits)).join(", ");

type Spans = Record<string, { ms: number; calls: number }>;

/** Times every call of the service functions a server run goes through, for BREAKDOWN. */
function timeCalls(discovery: DiscoveryService, spans: Spans) {
  const names = ["claim", "doneLocations", "record", "renewLease", "complete"] as const;
  for (const name of names) {
    const call = discovery[name] as (...args: unknown[]) => Promise<unknown>;
    (discovery as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await call(...args);
      } finally {
        const span = spans[name] ?? { ms: 0, calls: 0 };
        span.ms += performance.now() - started;
        span.calls++;
        spans[name] = span;
      }
    };
  }
}

async function main() {
  for (const name of ["nginx", "nmap", "sslscan"]) tool(name);
  const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-discovery-"));
  const listeners = Math.max(...FLEETS);
  const addresses = Array.from(
    { length: listeners },
    (_, i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`,
  );
  const port = await freePort(addresses[0] as string);
  const root = await makeCertificate({ name: "Bench Root", ca: true });
  const intermediate = await makeCertificate({ name: "Bench Intermediate", ca: true, issuer: root });
  const leaf = await makeCertificate({
    name: "fleet.bench",
    dnsNames: ["fleet.bench"],
    issuer: intermediate,
  });
  const nginx = await startNginx(
    join(dir, "nginx"),
    addresses.map((address) => ({
      name: address,
      address,
      port,
      chainPem: leaf.pem + intermediate.pem,
      keyPem: leaf.keyPem,
    })),
  );
  const core = await openCore(
    loadConfig({ env: {}, cwd: dir, flags: { dataDir: join(dir, "data"), logLevel: "silent" } }),
  );
  const spans: Spans = {};
  if (process.env.BREAKDOWN) timeCalls(core.discovery, spans);
  try {
    console.log(
      `fleet: ${listeners} nginx listeners ${addresses[0]}-${addresses.at(-1)}:${port}, leaf + intermediate (RSA-2048); ${ROUNDS} rounds per fleet size, tools in turn`,
    );
    for (const size of FLEETS) {
      const fleet = addresses.slice(0, size);
      const first = fleet[0] as string;
      const last = fleet.at(-1) as string;

      const strongroomRun = async (name: string) => {
        const run = await core.discovery.scan({
          name,
          targets: [`${first}-${last}`],
          ports: [port],
          knownNames: false,
          concurrency: CONCURRENCY,
          ratePerSecond: 100_000,
        });
        const started = performance.now();
        await drainServerRuns(core.discovery, "bench");
        const seconds = (performance.now() - started) / 1000;
        const done = await core.discovery.get(run.id);
        const ok = (await core.discovery.results(run.id, { outcome: "ok", limit: 10_000 })).filter(
          (r) => r.fingerprint === leaf.sha256 && r.chain.length === 2,
        ).length;
        if (done.status !== "completed" || ok !== size) {
          throw new Error(`Strongroom scan ${done.status} with ${ok} of ${size} chains`);
        }
        return size / seconds;
      };
      const aloneRun = async () => {
        let chains = 0;
        const started = performance.now();
        await scanEndpoints(
          fleet.map((host) => ({ host, port, location: `tls://${host}:${port}` })),
          { concurrency: CONCURRENCY, timeoutMs: 10_000, ratePerSecond: 100_000 },
          (r) => {
            if (r.chain.length === 2) chains++;
          },
        );
        if (chains !== size) throw new Error(`the scanner alone read ${chains} of ${size} chains`);
        return size / ((performance.now() - started) / 1000);
      };
      const hosts = join(dir, `hosts-${size}`);
      writeFileSync(hosts, fleet.map((a) => `${a}\n`).join(""));
      const nmapRun = () => {
        const nmap = timed("nmap", [
          "-Pn",
          "-n",
          "-sT",
          "-T4",
          "-p",
          String(port),
          "--script",
          "ssl-cert",
          "-iL",
          hosts,
        ]);
        const certificates = (nmap.stdout.match(/Not valid after:/g) ?? []).length;
        if (certificates !== size) throw new Error(`nmap reported ${certificates} certificates`);
        return size / nmap.seconds;
      };
      const targets = join(dir, `targets-${size}`);
      writeFileSync(targets, fleet.map((a) => `${a}:${port}\n`).join(""));
      const sslscanRun = () => {
        const sslscan = timed("sslscan", [
          "--no-colour",
          "--no-ciphersuites",
          "--no-fallback",
          "--no-renegotiation",
          "--no-compression",
          "--no-heartbleed",
          "--no-groups",
          "--no-cipher-details",
          "--show-certificate",
          `--targets=${targets}`,
        ]);
        // --show-certificate prints validity twice per endpoint (the certificate, then its summary).
        const certificates = sslscan.stdout
          .split(/Testing SSL server/)
          .slice(1)
          .filter((block) => block.includes("Not valid after:")).length;
        if (certificates !== size) throw new Error(`sslscan reported ${certificates} certificates`);
        return size / sslscan.seconds;
      };

      // One run not counted: a server scans warm, and a process's first run of a fleet measured a
      // third of the later ones (JIT, the first inventory insert of the fleet's certificate).
      await strongroomRun(`bench-${size}`);
      for (const span of Object.values(spans)) Object.assign(span, { ms: 0, calls: 0 });
      const rates = {
        strongroom: [] as number[],
        alone: [] as number[],
        nmap: [] as number[],
        sslscan: [] as number[],
      };
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        rates.strongroom.push(await strongroomRun(`bench-${size}`));
        rates.nmap.push(nmapRun());
        rates.sslscan.push(sslscanRun());
        rates.alone.push(await aloneRun());
        ratios.push((rates.strongroom.at(-1) as number) / (rates.nmap.at(-1) as number));
      }
      const ratio = median(rates.strongroom) / median(rates.nmap);
      console.log(`\n${size} listeners`);
      console.log(
        `  strongroom     ${median(rates.strongroom).toFixed(0)} endpoints/s (runs: ${list(rates.strongroom)}; end to end, chain + validity kept)`,
      );
      console.log(
        `  scanner alone  ${median(rates.alone).toFixed(0)} endpoints/s (runs: ${list(rates.alone)}; results discarded)`,
      );
      console.log(
        `  nmap           ${median(rates.nmap).toFixed(0)} endpoints/s (runs: ${list(rates.nmap)}; -T4 --script ssl-cert)`,
      );
      console.log(
        `  sslscan        ${median(rates.sslscan).toFixed(0)} endpoints/s (runs: ${list(rates.sslscan)}; --show-certificate, checks off)`,
      );
      const roundsMet = ratios.filter((r) => r >= TARGET_RATIO).length;
      console.log(
        `  ratio to nmap: ${ratio.toFixed(1)}x of medians (per round: ${list(ratios, 1)}; target >= ${TARGET_RATIO}x) ${ratio >= TARGET_RATIO ? "met" : "NOT met"} over ${size} listeners, in ${roundsMet} of ${ROUNDS} rounds`,
      );
      const aloneRatio = median(rates.alone) / median(rates.nmap);
      console.log(
        `  scanner alone to nmap: ${aloneRatio.toFixed(1)}x of medians (per round: ${list(
          rates.alone.map((r, i) => r / (rates.nmap[i] as number)),
          1,
        )})`,
      );
      console.log(
        `  ratio to sslscan: ${(median(rates.strongroom) / median(rates.sslscan)).toFixed(1)}x of medians`,
      );
      if (process.env.BREAKDOWN) {
        const runMs = (rates.strongroom.reduce((sum, r) => sum + size / r, 0) * 1000) / ROUNDS;
        const parts = Object.entries(spans).map(
          ([name, span]) =>
            `${name} ${(span.ms / ROUNDS).toFixed(1)} ms (${(span.calls / ROUNDS).toFixed(1)} calls)`,
        );
        console.log(`  per Strongroom run (${runMs.toFixed(0)} ms): ${parts.join(", ")}`);
      }
    }
    console.log(
      `\nload average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
  } finally {
    await core.close();
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
