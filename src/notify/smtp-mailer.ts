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
        ...(settings.user !== undefined && {
          auth: { user: settings.user, pass: settings.password ?? "" },
        }),
      }),
    ));
  return {
    async send(mail) {
      const info = await (await transporter()).sendMail({ from: settings.from, ...mail });
      return { response: String(info.response ?? "") };
    },
  };
}
