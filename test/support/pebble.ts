import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { opensslSelfSigned } from "./openssl-req.js";
import { commandExists, requireTool } from "./tools.js";

export const pebbleAvailable = requireTool(
  "pebble",
  commandExists("pebble") && commandExists("pebble-challtestsrv"),
  "apt-get install -y pebble",
);

/** A port free at this moment, for programs that must be told theirs in advance. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface Pebble {
  /** Pebble's process, for the CPU time it spends (bench/acme). */
  pid: number;
  directoryUrl: string;
  /** The PEM of pebble's own TLS certificate, to trust (acmeCaFile). */
  tlsCaFile: string;
  /** EAB key id and base64url HMAC key pebble accepts. */
  eab: { keyId: string; hmacKey: string };
  /** The root that signs pebble's intermediates, PEM (fresh at each start). */
  root(): Promise<string>;
  /** Sets a TXT record in the test DNS server (what a dns-01 hook does against a real provider). */
  challtestsrvUrl: string;
  stop(): Promise<void>;
}

function waitForOutput(child: ChildProcess, pattern: RegExp, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${seen}`)), 15_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${seen}`));
    });
  });
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });

/**
 * Pebble with EAB required, validating http-01 on `httpPort` (where Strongroom's challenge
 * responder listens), and pebble-challtestsrv as its DNS server: every name resolves to
 * 127.0.0.1, and TXT records are set through its management API.
 */
export async function startPebble({ httpPort }: { httpPort: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-pebble-"));
  const [acmePort, managementPort, tlsPort, dnsPort, challtestPort] = await Promise.all(
    Array.from({ length: 5 }, freePort),
  );
  opensslSelfSigned(join(dir, "key.pem"), join(dir, "cert.pem"), "/CN=pebble test TLS", {
    days: 2,
    subjectAltName: "DNS:localhost,IP:127.0.0.1",
  });
  const eab = { keyId: "kid-1", hmacKey: randomBytes(32).toString("base64url") };
  writeFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, "cert.pem"),
        privateKey: join(dir, "key.pem"),
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: true,
        externalAccountMACKeys: { [eab.keyId]: eab.hmacKey },
      },
    }),
  );
  const challtestsrv = await startChallTestSrv(dnsPort, challtestPort);
  const pebble = spawn(
    "pebble",
    ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`],
    {
      stdio: ["ignore", "pipe", "pipe"],
      // Every order is validated afresh: pebble otherwise reuses half of the valid authorizations.
      env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_AUTHZREUSE: "0" },
    },
  );
  const stop = async () => {
    await Promise.all([stopChild(pebble), challtestsrv.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForOutput(pebble, /ACME directory available/, "pebble");
  } catch (error) {
    await stop();
    throw error;
  }
  const ca = readFileSync(join(dir, "cert.pem"), "utf8");
  return {
    pid: pebble.pid as number,
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    tlsCaFile: join(dir, "cert.pem"),
    eab,
    challtestsrvUrl: `http://127.0.0.1:${challtestPort}`,
    async root() {
      const { Agent, request } = await import("node:https");
      return new Promise<string>((resolve, reject) => {
        request(`https://127.0.0.1:${managementPort}/roots/0`, { agent: new Agent({ ca }) }, (response) => {
          let body = "";
          response.on("data", (chunk) => {
            body += chunk;
          });
          response.on("end", () => resolve(body));
        })
          .on("error", reject)
          .end();
      });
    },
    stop,
  };
}

/** pebble-challtestsrv as a DNS server only: every name resolves to 127.0.0.1, TXT records set by API. */
export interface ChallTestSrv {
  /** `127.0.0.1:port` of its DNS server. */
  dnsServer: string;
  managementUrl: string;
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startChallTestSrv(dnsPort?: number, managementPort?: number): Promise<ChallTestSrv> {
  const dns = dnsPort ?? (await freePort());
  const management = managementPort ?? (await freePort());
  const child = spawn(
    "pebble-challtestsrv",
    [
      "-dns01",
      `127.0.0.1:${dns}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${management}`,
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    await waitForOutput(child, /Starting challenge servers|DNS/i, "pebble-challtestsrv");
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  const managementUrl = `http://127.0.0.1:${management}`;
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${managementUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`pebble-challtestsrv ${path}: ${response.status}`);
  };
  return {
    dnsServer: `127.0.0.1:${dns}`,
    managementUrl,
    setTxt: (host, value) => post("/set-txt", { host: `${host}.`, value }),
    clearTxt: (host) => post("/clear-txt", { host: `${host}.` }),
    stop: () => stopChild(child),
  };
}
