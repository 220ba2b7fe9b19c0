/** Neutral error codes; each HTTP surface decides how to render them. */
export type DomainErrorCode =
  | "BadParameter"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "Conflict"
  | "Throttled"
  | "Unavailable"
  | "NotSupported";

export interface DomainErrorOptions {
  /** A more specific reason that a surface may show, e.g. "SecretNotFound" or "ObjectIsDeletedButRecoverable". */
  reason?: string;
  cause?: unknown;
}

/** The one error type services throw. Messages tell the caller how to fix the request and never carry secrets. */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly reason: string | undefined;

  constructor(code: DomainErrorCode, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.reason = options.reason;
  }
}

export const badParameter = (message: string, reason?: string): DomainError =>
  new DomainError("BadParameter", message, reason === undefined ? {} : { reason });
