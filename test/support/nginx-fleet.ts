import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";

/** One nginx server block: what it listens on and what it serves. */
export interface Site {
  name: string;
  address: string;
  port: number;
  /** `server_name`; the block is the address's default when absent or `isDefault`. */
  serverName?: string;
  isDefault?: boolean;
  /** PEM certificates as served: the leaf, then whatever chain the site sends. */
  chainPem: string;
  keyPem: string;
}

export interface Nginx {
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

/** A port nobody listens on at `address` right now. */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Waits for a TLS handshake to complete, not just a TCP connect: nginx's master binds the ports
 * before it forks the workers that answer them, and on a loaded machine a scan started at the
 * connect could spend its timeout waiting for a worker.
 */
async function serving(address: string, port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tlsConnect({
        host: address,
        port,
        rejectUnauthorized: false,
        ciphers: "ALL:@SECLEVEL=0",
      });
      socket.once("secureConnect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      // A handshake no worker answers yet is tried again rather than waited on.
      socket.setTimeout(1000, () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx does not answer TLS on ${address}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Debian's nginx in the foreground, in `dir`, with one server block per site. Legacy certificates
 * (RSA-1024, SHA-1) load only at OpenSSL security level 0, so every block allows it.
 */
/**
 * An nginx.conf that runs in the foreground with every path (pid, error log, temporary files) under
 * the caller's directories, so tests and benches can run any number of nginx side by side.
 */
export function nginxConfig(o: {
  /** Temporary files' directory. */
  temp: string;
  pid: string;
  errorLog: string;
  /** The `server { … }` blocks. */
  servers: string;
  workers: number | "auto";
  connections: number;
  /** The `user` line's value, when nginx runs as root and its workers should too. */
  user?: string | undefined;
}): string {
  return `${o.user ? `user ${o.user};\n` : ""}daemon off;
worker_processes ${o.workers};
pid ${o.pid};
error_log ${o.errorLog} warn;
events { worker_connections ${o.connections}; }
http {
  access_log off;
  client_body_temp_path ${o.temp}/body;
  proxy_temp_path ${o.temp}/proxy;
  fastcgi_temp_path ${o.temp}/fastcgi;
  uwsgi_temp_path ${o.temp}/uwsgi;
  scgi_temp_path ${o.temp}/scgi;
${o.servers}
}
`;
}

export async function startNginx(dir: string, sites: readonly Site[]): Promise<Nginx> {
  mkdirSync(join(dir, "certs"), { recursive: true });
  mkdirSync(join(dir, "temp"), { recursive: true });
  const blocks = sites.map((site, i) => {
    const cert = join(dir, "certs", `${i}.pem`);
    const key = join(dir, "certs", `${i}.key`);
    writeFileSync(cert, site.chainPem);
    writeFileSync(key, site.keyPem, { mode: 0o600 });
    const isDefault = site.isDefault || site.serverName === undefined;
    return `  server {
    listen ${site.address}:${site.port} ssl${isDefault ? " default_server" : ""};
    server_name ${site.serverName ?? "_"};
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ALL:@SECLEVEL=0;
    return 200 "${site.name}\\n";
  }`;
  });
  const temp = join(dir, "temp");
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    nginxConfig({
      user: process.getuid?.() === 0 ? "root root" : undefined,
      workers: "auto",
      pid: join(dir, "nginx.pid"),
      errorLog: join(dir, "error.log"),
      connections: 4096,
      temp,
      servers: blocks.join("\n"),
    }),
  );
  const child: ChildProcess = spawn("nginx", ["-p", dir, "-c", conf, "-e", join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const log = () => {
    try {
      return stderr + readFileSync(join(dir, "error.log"), "utf8");
    } catch {
      return stderr;
    }
  };
  // A thousand server blocks take nginx seconds to load on a busy machine: the wait grows with them.
  const deadline = Date.now() + 15_000 + 30 * sites.length;
  const unique = [...new Map(sites.map((s) => [`${s.address}:${s.port}`, s])).values()];
  const failed = exited.then((code) => {
    throw new Error(`nginx exited with ${code}: ${log()}`);
  });
  await Promise.race([Promise.all(unique.map((s) => serving(s.address, s.port, deadline))), failed]);
  failed.catch(() => undefined);
  return {
    pid: child.pid as number,
    log,
    async stop() {
      if (child.exitCode === null) child.kill("SIGQUIT");
      await exited;
    },
  };
}
