/**
 * TLS endpoints scanned per second over one local fleet: Debian nginx with LISTENERS server blocks
 * on 127.0.1.x, each serving a leaf and its intermediate. Strongroom (a queued scan run by the
 * discovery job's code: scanner, SQLite results, diff and inventory observations), `nmap --script
 * ssl-cert` and `sslscan --show-certificate` (each reading the certificate and its validity) scan the
 * same fleet in the same run; each tool's output is checked to hold every endpoint's certificate.
 * Run with `npm run bench:discovery`.
 */
import "reflect-metadata";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/config.js";
import { scanEndpoints } from "../src/discovery/tls-scanner.js";
import { drainServerRuns } from "../src/jobs/discovery-job.js";
import { openCore } from "../src/main.js";
import { freePort, startNginx } from "../test/support/nginx-fleet.js";
import { makeCertificate } from "../test/support/test-pki.js";

const LISTENERS = Number(process.env.BENCH_LISTENERS ?? 250);
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

async function main() {
  for (const name of ["nginx", "nmap", "sslscan"]) tool(name);
  const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-discovery-"));
  const addresses = Array.from(
    { length: LISTENERS },
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
  try {
    const first = addresses[0] as string;
    const last = addresses.at(-1) as string;
    console.log(
      `fleet: ${LISTENERS} nginx listeners ${first}-${last}:${port}, leaf + intermediate (RSA-2048)`,
    );

    // Strongroom, three runs of one name (the later ones also diff against the one before), after
    // one run not counted: a server scans warm, and the first run's figure was a third of the later
    // ones' (JIT, the first inventory insert of the fleet's certificate).
    const strongroom: number[] = [];
    for (let round = -1; round < 3; round++) {
      const run = await core.discovery.scan({
        name: "bench",
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
      if (done.status !== "completed" || ok !== LISTENERS) {
        throw new Error(`Strongroom scan ${done.status} with ${ok} of ${LISTENERS} chains`);
      }
      if (round >= 0) strongroom.push(LISTENERS / seconds);
    }

    // The scanner alone over the same endpoints, results discarded: what the end-to-end figure
    // spends beyond it is the run's bookkeeping (queue, results, diff, inventory).
    const alone: number[] = [];
    for (let round = 0; round < 3; round++) {
      let chains = 0;
      const started = performance.now();
      await scanEndpoints(
        addresses.map((host) => ({ host, port, location: `tls://${host}:${port}` })),
        { concurrency: CONCURRENCY, timeoutMs: 10_000, ratePerSecond: 100_000 },
        (r) => {
          if (r.chain.length === 2) chains++;
        },
      );
      if (chains !== LISTENERS) throw new Error(`the scanner alone read ${chains} of ${LISTENERS} chains`);
      alone.push(LISTENERS / ((performance.now() - started) / 1000));
    }

    const hosts = join(dir, "hosts");
    writeFileSync(hosts, addresses.map((a) => `${a}\n`).join(""));
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
    const nmapCerts = (nmap.stdout.match(/Not valid after:/g) ?? []).length;
    if (nmapCerts !== LISTENERS) throw new Error(`nmap reported ${nmapCerts} certificates`);

    const targets = join(dir, "targets");
    writeFileSync(targets, addresses.map((a) => `${a}:${port}\n`).join(""));
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
    const sslscanCerts = sslscan.stdout
      .split(/Testing SSL server/)
      .slice(1)
      .filter((block) => block.includes("Not valid after:")).length;
    if (sslscanCerts !== LISTENERS) throw new Error(`sslscan reported ${sslscanCerts} certificates`);

    const median = [...strongroom].sort((a, b) => a - b)[1] as number;
    const nmapRate = LISTENERS / nmap.seconds;
    const sslscanRate = LISTENERS / sslscan.seconds;
    const rates = strongroom.map((r) => r.toFixed(0)).join(", ");
    console.log(
      `strongroom   ${median.toFixed(0)} endpoints/s (median of ${rates}; concurrency ${CONCURRENCY}, chain + validity kept)`,
    );
    const aloneMedian = [...alone].sort((a, b) => a - b)[1] as number;
    console.log(
      `  scanner alone ${aloneMedian.toFixed(0)} endpoints/s (median of ${alone.map((r) => r.toFixed(0)).join(", ")}; results discarded)`,
    );
    console.log(
      `nmap         ${nmapRate.toFixed(1)} endpoints/s (${nmap.seconds.toFixed(1)} s, -T4 --script ssl-cert)`,
    );
    console.log(
      `sslscan      ${sslscanRate.toFixed(1)} endpoints/s (${sslscan.seconds.toFixed(1)} s, --show-certificate, checks off)`,
    );
    const ratio = median / nmapRate;
    console.log(
      `ratio to nmap: ${ratio.toFixed(1)}x (target >= ${TARGET_RATIO}x) ${ratio >= TARGET_RATIO ? "met" : "NOT met"}`,
    );
    console.log(`ratio to sslscan: ${(median / sslscanRate).toFixed(1)}x`);
  } finally {
    await core.close();
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
