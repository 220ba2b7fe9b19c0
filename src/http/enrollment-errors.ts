import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { DomainError } from "../domain/errors.js";
import { STATUS } from "./keyvault/errors.js";

/**
 * EST (RFC 7030 §4.2.3) and SCEP (RFC 8894 §4) answer errors over HTTP with a status and a
 * human-readable text body; their clients print the body. Anything unexpected is a 500 naming only
 * the request id, with the cause in the log.
 */
export function renderEnrollmentError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const text = (status: number, message: string) =>
    reply.status(status).type("text/plain; charset=utf-8").send(`${message}\n`);
  if (error instanceof DomainError) {
    if (error.code === "Unauthorized") reply.header("www-authenticate", 'Basic realm="strongroom-est"');
    return text(STATUS[error.code], error.message);
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return text(status, error.message);
  request.log.error({ err: error }, "enrollment request failed");
  return text(500, `Internal error; request id ${request.id}`);
}

/** Records the enrolling client as the actor of the request's audit rows. */
export function actAs(
  request: FastifyRequest,
  principalId: string,
  clientId: string,
  tenantId: string,
): void {
  request.caller = { principalId, clientId, tenantId };
}
