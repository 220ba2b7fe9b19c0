import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import type { Mailer } from "./ports.js";

/** The SMTP settings as the admin API shows them: whether a password is set, never the password. */
export interface SmtpSummary {
  host: string;
  port: number;
  secure: boolean;
  user?: string | undefined;
  from: string;
  passwordSet: boolean;
}

/** What a test mail got: the server's final answer, or its refusal or the connection's failure. */
export type TestMail = { sent: true; response: string } | { sent: false; error: string };

// One address, as a person types it: no display name, no list.
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

export type SmtpService = ReturnType<typeof createSmtpService>;

/** The SMTP settings mail goes out with, and a test mail through the mailer the jobs use. */
export function createSmtpService(deps: {
  /** Absent when no SMTP host is configured: then nothing is mailed. */
  smtp?: { summary: SmtpSummary; mailer: Mailer } | undefined;
  clock: Clock;
}) {
  return {
    summary: (): ({ configured: true } & SmtpSummary) | { configured: false } =>
      deps.smtp ? { configured: true, ...deps.smtp.summary } : { configured: false },

    /** Sends one short mail to `to` now and reports the server's answer; refused without SMTP. */
    async sendTest(to: string): Promise<TestMail> {
      const address = to.trim();
      if (!ADDRESS.test(address)) throw badParameter(`"${to}" is not one e-mail address`);
      if (!deps.smtp) {
        throw new DomainError("Conflict", "No SMTP server is configured (smtpHost), so no mail can be sent", {
          reason: "SmtpNotConfigured",
        });
      }
      const sent = deps.clock.now().toISOString();
      const text = `This test mail was sent from Strongroom at ${sent} to check its SMTP settings. It needs no action.`;
      try {
        const { response } = await deps.smtp.mailer.send({
          to: [address],
          subject: "Strongroom test mail",
          text,
          html: `<p>${text}</p>`,
        });
        return { sent: true, response };
      } catch (error) {
        return { sent: false, error: (error as Error).message };
      }
    },
  };
}
