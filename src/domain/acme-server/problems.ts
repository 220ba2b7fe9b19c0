import { DomainError, type DomainErrorCode } from "../errors.js";

/**
 * RFC 8555 §6.7 error types the server raises, with the neutral code each surface renders a status
 * from. The reason carries the ACME type, so the ACME renderer names it exactly.
 */
const CODES = {
  accountDoesNotExist: "BadParameter",
  alreadyRevoked: "BadParameter",
  badCSR: "BadParameter",
  badNonce: "BadParameter",
  badPublicKey: "BadParameter",
  badRevocationReason: "BadParameter",
  badSignatureAlgorithm: "BadParameter",
  externalAccountRequired: "Unauthorized",
  invalidContact: "BadParameter",
  invalidProfile: "BadParameter",
  malformed: "BadParameter",
  orderNotReady: "Forbidden",
  rateLimited: "Throttled",
  rejectedIdentifier: "BadParameter",
  unauthorized: "Forbidden",
  unsupportedIdentifier: "BadParameter",
  conflict: "Conflict",
  notFound: "NotFound",
} as const satisfies Record<string, DomainErrorCode>;

export type AcmeErrorType = keyof typeof CODES;

/** A DomainError whose reason is the ACME error type `type`. */
export const acmeError = (type: AcmeErrorType, message: string, cause?: unknown): DomainError =>
  new DomainError(CODES[type], message, { reason: type, ...(cause === undefined ? {} : { cause }) });
