import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";

export interface Endpoint {
  address: string;
  port: number;
  close(): Promise<void>;
}

function serve(address: string, onConnection: (socket: Socket) => void, port = 0): Promise<Endpoint> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onConnection(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      const { port } = server.address() as { port: number };
      resolve({
        address,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * A tiny SMTP server (RFC 5321 greeting and EHLO, RFC 3207 STARTTLS) that upgrades to TLS with
 * `cert` and `key` and then answers every command with 250.
 */
export function startTlsSmtp(address: string, chainPem: string, keyPem: string, port = 0): Promise<Endpoint> {
  const context = createSecureContext({ cert: chainPem, key: keyPem });
  return serve(
    address,
    (socket) => {
      socket.write("220 smtp.test ESMTP ready\r\n");
      let buffer = "";
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString("latin1");
        for (let end = buffer.indexOf("\r\n"); end >= 0; end = buffer.indexOf("\r\n")) {
          const line = buffer.slice(0, end).toUpperCase();
          buffer = buffer.slice(end + 2);
          if (line.startsWith("EHLO"))
            socket.write("250-smtp.test greets you\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
          else if (line === "STARTTLS") {
            socket.off("data", onData);
            socket.write("220 2.0.0 go ahead\r\n");
            const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
            tls.on("error", () => undefined);
            tls.on("data", () => tls.write("250 ok\r\n"));
            return;
          } else if (line === "QUIT") socket.end("221 bye\r\n");
          else socket.write("502 5.5.1 not here\r\n");
        }
      };
      socket.on("data", onData);
    },
    port,
  );
}

/** Answers a ClientHello with random bytes and keeps the connection open. */
export const startGarbageServer = (address: string) =>
  serve(address, (socket) => socket.once("data", () => socket.write(randomBytes(16 * 1024))));

/**
 * Accepts and then dribbles a TLS record header one byte every `everyMs`, never finishing: a
 * handshake that would take forever.
 */
export const startSlowLoris = (address: string, everyMs = 200) =>
  serve(address, (socket) => {
    const bytes = Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00, ...randomBytes(64 * 1024)]);
    let at = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || at >= bytes.length) return clearInterval(timer);
      socket.write(bytes.subarray(at, at + 1));
      at++;
    }, everyMs);
    socket.on("close", () => clearInterval(timer));
  });
