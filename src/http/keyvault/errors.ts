import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { AUDIT_RETRY_AFTER_SECONDS, AUDIT_UNAVAILABLE } from "../../domain/audit/audit-unavailable.js";
import { DomainError, type DomainErrorCode } from "../../domain/errors.js";

export const STATUS: Record<DomainErrorCode, number> = {
  BadParameter: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  Throttled: 429,
  Unavailable: 503,
  NotSupported: 501,
};

export interface KeyVaultErrorBody {
  error: { code: string; message: string; innererror?: { code: string } };
}

/**
 * Reasons whose Key Vault code is not the name of their status: Key Vault answers a create or import
 * while an operation is in progress with 409 and code "Forbidden" (keyvault-api.md §3), which the
 * SDK surfaces as RestError.code.
 */
const KEY_VAULT_CODE_BY_REASON: Readonly<Record<string, string>> = {
  PendingCertificateInProgress: "Forbidden",
};

/** Key Vault's error body: not-found errors name the kind of object in `code`, others use `innererror`. */
export function keyVaultError(error: DomainError): KeyVaultErrorBody {
  if (error.code === "NotFound")
    return { error: { code: error.reason ?? "NotFound", message: error.message } };
  return {
    error: {
      code: (error.reason !== undefined && KEY_VAULT_CODE_BY_REASON[error.reason]) || error.code,
      message: error.message,
      ...(error.reason !== undefined && { innererror: { code: error.reason } }),
    },
  };
}

/**
 * One renderer for every error on Key Vault-shaped surfaces. Fastify's own 4xx errors (malformed JSON,
 * schema validation, oversize bodies) become BadParameter with their message; anything unexpected is
 * a 500 that names only the request id, while the cause goes to the log.
 */
export function renderKeyVaultError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (error instanceof DomainError) {
    if (error.reason === AUDIT_UNAVAILABLE) reply.header("retry-after", AUDIT_RETRY_AFTER_SECONDS);
    return reply.status(STATUS[error.code]).send(keyVaultError(error));
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const message = (error as FastifyError).validation
      ? `The request is invalid: ${error.message.replace(/^body\//, "")}`
      : error.message;
    return reply.status(status).send({ error: { code: "BadParameter", message } });
  }
  request.log.error({ err: error }, "unhandled error");
  return reply.status(500).send({
    error: {
      code: "InternalError",
      message: `The server failed to process request ${request.id}; the cause is in its log.`,
    },
  });
}
