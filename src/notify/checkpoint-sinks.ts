import { createSocket } from "node:dgram";
import { appendFile } from "node:fs/promises";
import { connect } from "node:net";
import { hostname } from "node:os";
import { checkpointToJson } from "../domain/audit/checkpoint-codec.js";
import type { CheckpointSink } from "../domain/audit/ports.js";

const TIMEOUT_MS = 10_000;

/** Appends each checkpoint as a JSON line; `audit verify --checkpoint` reads the newest line. */
export function fileCheckpointSink(file: string): CheckpointSink {
  return {
    name: `file ${file}`,
    send: (c) => appendFile(file, `${checkpointToJson(c)}\n`, { mode: 0o600 }),
  };
}

/** POSTs each checkpoint as JSON; anything but a 2xx is a failed delivery. */
export function webhookCheckpointSink(url: string): CheckpointSink {
  return {
    name: `webhook ${url}`,
    async send(c) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: checkpointToJson(c),
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: "manual",
      });
      await res.arrayBuffer();
      if (res.status < 200 || res.status > 299) throw new Error(`the webhook answered ${res.status}`);
    },
  };
}

/**
 * One RFC 5424 message: facility 10 (security/authorization), severity 5 (notice), so PRI is
 * 10·8 + 5 = 85; the checkpoint's JSON is the MSG, so a collector stores it verbatim.
 */
export function syslogMessage(json: string, time: Date, host = hostname()): string {
  // RFC 5424 §6: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
  return `<85>1 ${time.toISOString()} ${host} strongroom ${process.pid} audit-checkpoint - ${json}`;
}

/** Sends each checkpoint to a syslog receiver over UDP (RFC 5426) or TCP with octet counting (RFC 6587 §3.4.1). */
export function syslogCheckpointSink(target: string): CheckpointSink {
  const url = new URL(target);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port);
  return {
    name: `syslog ${target}`,
    async send(c) {
      const message = Buffer.from(syslogMessage(checkpointToJson(c), c.time), "utf8");
      if (url.protocol === "udp:") {
        const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
        try {
          await new Promise<void>((resolve, reject) =>
            socket.send(message, port, host, (error) => (error ? reject(error) : resolve())),
          );
        } finally {
          socket.close();
        }
        return;
      }
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port, timeout: TIMEOUT_MS });
        socket.once("error", reject);
        socket.once("timeout", () => socket.destroy(new Error("the syslog receiver did not answer in time")));
        socket.once("connect", () => {
          socket.end(Buffer.concat([Buffer.from(`${message.length} `), message]), () => resolve());
        });
      });
    },
  };
}
