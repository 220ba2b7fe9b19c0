import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface PlainListening {
  primary: Server;
  others: Server[];
  port: number;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Plain HTTP for CRLs, OCSP and AIA: relying parties fetch them while checking a TLS certificate,
 * so serving them over TLS would make revocation checking depend on itself (RFC 5280 §8).
 */
export async function listenPlain(hosts: readonly string[], port: number): Promise<PlainListening> {
  const [first = "127.0.0.1", ...rest] = hosts;
  const primary = createServer();
  const bound = await listen(primary, port, first);
  const others: Server[] = [];
  for (const host of rest) {
    const server = createServer();
    await listen(server, bound, host);
    others.push(server);
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
