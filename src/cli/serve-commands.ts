import cluster from "node:cluster";
import type { Command } from "commander";
import { createIpcPeers } from "../cluster/ipc-peers.js";
import { isOurs, type PrimaryMessage, type WorkerMessage } from "../cluster/messages.js";
import { superviseWorkers } from "../cluster/supervisor.js";
import { type Config, workerCount } from "../config/config.js";
import { startStrongroom } from "../main.js";
import { config } from "./program.js";

/**
 * One server process: the whole server when it runs alone, or one worker of several, which the
 * primary tells when to run the scheduled jobs and which prints nothing of its own.
 */
async function serve(settings: Config): Promise<void> {
  const worker = cluster.isWorker;
  const strongroom = await startStrongroom(
    worker ? { ...settings, jobs: false } : settings,
    worker ? { peers: createIpcPeers() } : {},
  );
  const lines = [
    `Strongroom is serving the default vault at ${strongroom.admin.vaultUrl}`,
    `Administrator credentials: ${strongroom.core.config.dataDir}/admin.json`,
    ...(strongroom.admin.caFile ? [`Trust this CA in clients: ${strongroom.admin.caFile}`] : []),
    `CRLs, OCSP and CA certificates are served at ${strongroom.core.pkiBase.url}`,
  ];
  if (worker) {
    process.on("message", (message: unknown) => {
      if (isOurs<PrimaryMessage>(message) && message.strongroom === "run-jobs" && settings.jobs) {
        strongroom.scheduler.start();
      }
    });
    process.send?.({ strongroom: "ready", lines } satisfies WorkerMessage);
  } else {
    for (const line of lines) console.log(line);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!worker) console.log(`${signal} received: finishing requests in flight, then stopping`);
    await strongroom.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** `strongroom serve`: the server, alone or as a supervisor of workers. */
export function registerServeCommands(program: Command): void {
  program
    .command("serve")
    .description("run the HTTPS server")
    .option("--host <address>", "address to listen on (env STRONGROOM_HOST, default 127.0.0.1)")
    .option("--port <port>", "HTTPS port (env STRONGROOM_PORT, default 8443)")
    .option(
      "--pki-port <port>",
      "plain-HTTP port for CRLs, OCSP and AIA (env STRONGROOM_PKI_PORT, default 8080)",
    )
    .option(
      "--pki-base-url <url>",
      "public http://host[:port] of that listener, baked into certificates (env STRONGROOM_PKI_BASE_URL)",
    )
    .option(
      "--alias <host=vault>",
      "serve a vault at another host or IP, e.g. 127.0.0.2=team (repeatable; env STRONGROOM_ALIASES)",
      (pair: string, all: string[]) => [...all, pair],
      [],
    )
    .option(
      "--workers <n>",
      "server processes sharing the ports, or auto: one per core (env STRONGROOM_WORKERS)",
    )
    .action(
      async (
        options: {
          host?: string;
          port?: string;
          pkiPort?: string;
          pkiBaseUrl?: string;
          alias: string[];
          workers?: string;
        },
        command: Command,
      ) => {
        const aliases = options.alias.length > 0 ? options.alias.join(",") : undefined;
        const settings = config(command, {
          host: options.host,
          port: options.port,
          pkiPort: options.pkiPort,
          pkiBaseUrl: options.pkiBaseUrl,
          aliases,
          workers: options.workers,
        });
        const workers = workerCount(settings);
        if (workers > 1 && cluster.isPrimary) {
          process.exitCode = await superviseWorkers({
            count: workers,
            jobs: settings.jobs,
            print: (line) => console.log(line),
            warn: (line) => console.error(line),
          });
          return;
        }
        await serve(settings);
      },
    );
}
