import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { SmtpService } from "../../domain/events/smtp-service.js";

const TestBody = Type.Object(
  { to: Type.String({ minLength: 3, maxLength: 320 }) },
  { additionalProperties: false },
);

/**
 * The SMTP settings under /admin/smtp, inside the admin scope: shown without the password, and a
 * test mail through the mailer the jobs use, answered with what the SMTP server said.
 */
export function registerSmtpRoutes(admin: FastifyInstance, { smtp }: { smtp: SmtpService }): void {
  admin.get("/admin/smtp", { config: { operation: "SmtpGet" } }, async () => smtp.summary());
  admin.post<{ Body: Static<typeof TestBody> }>(
    "/admin/smtp/test",
    { schema: { body: TestBody }, config: { operation: "SmtpTest" } },
    async (request) => smtp.sendTest(request.body.to),
  );
}
