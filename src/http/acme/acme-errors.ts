import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { DomainError, type DomainErrorCode } from "../../domain/errors.js";

const PREFIX = "urn:ietf:params:acme:error:";

/** RFC 8555 §6.7 types by the status they are answered with (boulder's web/probs.go does the same). */
const STATUS_OF_TYPE: Record<string, number> = {
  accountDoesNotExist: 400,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  externalAccountRequired: 403,
  invalidContact: 400,
  invalidProfile: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  unauthorized: 403,
  unsupportedIdentifier: 400,
};

/** Reasons that are not ACME types but keep their own status: the problem type is `malformed`. */
const STATUS_OF_REASON: Record<string, number> = { conflict: 409, notFound: 404 };

const BY_CODE: Record<DomainErrorCode, { type: string; status: number }> = {
  BadParameter: { type: "malformed", status: 400 },
  Unauthorized: { type: "unauthorized", status: 401 },
  Forbidden: { type: "unauthorized", status: 403 },
  NotFound: { type: "malformed", status: 404 },
  Conflict: { type: "malformed", status: 409 },
  Throttled: { type: "rateLimited", status: 429 },
  Unavailable: { type: "serverInternal", status: 503 },
  NotSupported: { type: "malformed", status: 400 },
};

export interface Problem {
  type: string;
  detail: string;
  status: number;
}

/** A DomainError as an ACME problem document. */
export function acmeProblem(error: DomainError): Problem {
  const reason = error.reason ?? "";
  if (reason in STATUS_OF_TYPE)
    return { type: `${PREFIX}${reason}`, detail: error.message, status: STATUS_OF_TYPE[reason] as number };
  if (reason in STATUS_OF_REASON)
    return { type: `${PREFIX}malformed`, detail: error.message, status: STATUS_OF_REASON[reason] as number };
  const { type, status } = BY_CODE[error.code];
  return { type: `${PREFIX}${type}`, detail: error.message, status };
}

/**
 * The ACME surface's one error renderer: domain errors as their problem, Fastify's refusals (wrong
 * content type, unparsable body, too large) as malformed with their status, anything else as
 * serverInternal with the request id, its cause only in the log.
 */
export function renderAcmeError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  let problem: Problem;
  if (error instanceof DomainError) problem = acmeProblem(error);
  else if ("statusCode" in error && typeof error.statusCode === "number" && error.statusCode < 500)
    problem = { type: `${PREFIX}malformed`, detail: error.message, status: error.statusCode };
  else {
    request.log.error({ err: error }, "ACME request failed");
    problem = {
      type: `${PREFIX}serverInternal`,
      detail: `The server failed on this request (request id ${request.id})`,
      status: 500,
    };
  }
  return reply.status(problem.status).type("application/problem+json").send(problem);
}
