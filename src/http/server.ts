import type { Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface Listening<S extends HttpServer | Server = Server> {
  /** The first server; Fastify owns it through its serverFactory. */
  primary: S;
  /** Servers on the other addresses, sharing the same request handler. */
  others: S[];
  port: number;
  close(): Promise<void>;
}

function listen(server: HttpServer | Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Binds a server made by `make` on every address, all on the first one's port (port 0 picks it), and
 * closes the others on close: Fastify closes the primary itself.
 */
export async function listenOnAll<S extends HttpServer | Server>(
  make: () => S,
  hosts: readonly string[],
  port: number,
): Promise<Listening<S>> {
  const [first = "127.0.0.1", ...rest] = hosts;
  const primary = make();
  const bound = await listen(primary, port, first);
  const others: S[] = [];
  try {
    for (const host of rest) {
      const server = make();
      await listen(server, bound, host);
      others.push(server);
    }
  } catch (error) {
    // Half-bound listeners would keep the port taken for the next start in this process.
    for (const server of [primary, ...others]) server.close();
    throw error;
  }
  return {
    primary,
    others,
    port: bound,
    async close() {
      await Promise.all(
        others.map((s) => {
          s.closeIdleConnections();
          return new Promise<void>((resolve) => s.close(() => resolve()));
        }),
      );
    },
  };
}

/**
 * Binds HTTPS on every address before the app is built, so the real port (port 0 in tests) is known
 * when URLs and the token issuer are derived from it.
 */
export function listenTls(tls: TlsFiles, hosts: readonly string[], port: number): Promise<Listening> {
  return listenOnAll(
    () => {
      // EST clients authenticate with a client certificate (RFC 7030 §3.3.2): asked for, never
      // required, and not verified by TLS, since the EST routes match it against the CA's records
      // and every other surface ignores it.
      const server = createServer({
        cert: tls.cert,
        key: tls.key,
        minVersion: "TLSv1.2",
        requestCert: true,
        rejectUnauthorized: false,
      });
      server.keepAliveTimeout = 65_000;
      return server;
    },
    hosts,
    port,
  );
}
