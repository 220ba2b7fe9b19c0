import { DomainError } from "../errors.js";

/** Why the caller is refused while the audit log cannot be written. */
export const AUDIT_UNAVAILABLE = "AuditLogUnavailable";

/** What a refused caller is told to wait (Retry-After) before trying again. */
export const AUDIT_RETRY_AFTER_SECONDS = "5";

/** The one error an unwritable audit log gives: the change is refused, and the caller may try again. */
export function auditUnavailable(cause: unknown): DomainError {
  return new DomainError(
    "Unavailable",
    "The audit log cannot be written, so nothing was changed; try again later.",
    { reason: AUDIT_UNAVAILABLE, cause },
  );
}
