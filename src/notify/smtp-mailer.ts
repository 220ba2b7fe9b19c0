import type { Transporter } from "nodemailer";
import type { Mailer } from "../domain/events/ports.js";

export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (465); otherwise STARTTLS is used when the server offers it. */
  secure: boolean;
  user?: string | undefined;
  password?: string | undefined;
  from: string;
  /**
   * Longest wait to connect, for the greeting, and for any answer after it. nodemailer's own
   * defaults (2 min, 30 s, 10 min) let a silent server hold a test mail's request, or the digest
   * job, for minutes.
   */
  timeoutMs: number;
}

export function createSmtpMailer(settings: SmtpSettings): Mailer {
  // nodemailer loads with the first mail, not with every CLI command that opens the core.
  let transport: Promise<Transporter> | undefined;
  const transporter = () =>
    (transport ??= import("nodemailer").then((nodemailer) =>
      nodemailer.createTransport({
        host: settings.host,
        port: settings.port,
        secure: settings.secure,
        connectionTimeout: settings.timeoutMs,
        greetingTimeout: settings.timeoutMs,
        socketTimeout: settings.timeoutMs,
        ...(settings.user !== undefined && {
          auth: { user: settings.user, pass: settings.password ?? "" },
        }),
      }),
    ));
  return {
    async send(mail) {
      try {
        const info = await (await transporter()).sendMail({ from: settings.from, ...mail });
        return { response: String(info.response ?? "") };
      } catch (error) {
        // nodemailer says only "Timeout" or "Greeting never received"; say whom and what to check.
        if ((error as { code?: string }).code !== "ETIMEDOUT") throw error;
        throw new Error(
          `The SMTP server ${settings.host}:${settings.port} did not answer within ${settings.timeoutMs} ms ` +
            `(${(error as Error).message}); check smtpHost, smtpPort and smtpSecure, or raise smtpTimeoutMs`,
        );
      }
    },
  };
}
