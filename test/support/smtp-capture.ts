import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface CapturedMail {
  to: string[];
  raw: string;
}

/**
 * A real SMTP server in this process on a free loopback port, keeping every mail it is sent. With
 * `login` it asks for that user and password (plain text: loopback only); `refuse` is an address it
 * answers 550.
 */
export function smtpCapture(options: { login?: { user: string; password: string }; refuse?: string } = {}) {
  const mails: CapturedMail[] = [];
  const { login, refuse } = options;
  const smtp = new SMTPServer({
    authOptional: login === undefined,
    disabledCommands: ["STARTTLS"],
    ...(login && {
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === login.user && auth.password === login.password)
          return callback(null, { user: auth.username });
        callback(new Error("Invalid username or password"));
      },
    }),
    onRcptTo(address, _session, callback) {
      if (address.address !== refuse) return callback();
      const error = Object.assign(new Error(`Mailbox ${refuse} unavailable`), { responseCode: 550 });
      callback(error);
    },
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
