import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

export interface TlsFiles {
  cert: string;
  key: string;
}

/**
 * Creates the HTTPS server and binds it before the app is built, so the real port (port 0 in tests)
 * is known when URLs and the token issuer are derived from it.
 */
export async function listenTls(
  tls: TlsFiles,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
