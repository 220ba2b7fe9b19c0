import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A real HTTP endpoint that answers Event Grid's and CloudEvents' handshakes and can be taken down. */
export function receiver() {
  const received: Received[] = [];
  const state = { down: false };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      if (req.method === "OPTIONS") {
        res.writeHead(200, { "webhook-allowed-origin": "*" }).end();
        return;
      }
      if (req.headers["aeg-event-type"] === "SubscriptionValidation" && !state.down) {
        const [event] = JSON.parse(body) as { data: { validationCode: string } }[];
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ validationResponse: event?.data.validationCode }));
        return;
      }
      if (state.down) {
        res.writeHead(503).end();
        return;
      }
      received.push({ path: req.url ?? "", headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  return {
    received,
    state,
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, "127.0.0.1", () =>
          resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        ),
      ),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
