import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface CapturedMail {
  to: string[];
  raw: string;
}

/** A real SMTP server in this process on a free loopback port, keeping every mail it is sent. */
export function smtpCapture() {
  const mails: CapturedMail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString(),
        });
        callback();
      });
    },
  });
  return {
    mails,
    /** Listens and resolves with the port. */
    start: () =>
      new Promise<number>((resolve) =>
        smtp.listen(0, "127.0.0.1", () => resolve((smtp.server.address() as AddressInfo).port)),
      ),
    stop: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}
