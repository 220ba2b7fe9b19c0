import { ConfigError } from "../config/config.js";
import { DomainError } from "../domain/errors.js";

/** Where to look for what a NotFound refusal names, by its reason, else by the group refused. */
const LISTING_BY_REASON: Record<string, string> = {
  VaultNotFound: "strongroom vault list",
  PrincipalNotFound: "strongroom principal list",
  RoleNotFound: "strongroom role list",
  RoleAssignmentNotFound: "strongroom role assignments",
  CertificateIssuerNotFound: "strongroom issuer list",
  AcmeSettingsNotFound: "strongroom acme list <vault>",
  WebhookNotFound: "strongroom webhook list",
  CertificateNotFound: "strongroom cert list",
};
const LISTING_BY_GROUP: Record<string, string> = {
  vault: "strongroom vault list",
  principal: "strongroom principal list",
  group: "strongroom principal list",
  role: "strongroom role list",
  policy: "strongroom policy list <vault>",
  webhook: "strongroom webhook list",
  acme: "strongroom acme list <vault>",
  ca: "strongroom ca list",
  cert: "strongroom cert list",
  issuer: "strongroom issuer list",
};

/** What to do next after a refusal; "" when there is nothing better than the message itself. */
function nextStep(error: DomainError, group: string | undefined): string {
  if (error.code === "NotFound") {
    const listing = LISTING_BY_REASON[error.reason ?? ""] ?? LISTING_BY_GROUP[group ?? ""];
    const vaultNote =
      error.reason === "VaultNotFound"
        ? "; the first `strongroom serve` creates the default vault, `strongroom vault create <name>` others"
        : "";
    return listing ? `see what exists: \`${listing}\`${vaultNote}` : "";
  }
  if (error.code === "BadParameter" && group && group !== "strongroom")
    return `see \`strongroom ${group} --help\``;
  return "";
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a parent is not a directory",
};

/**
 * The one line a failed command prints: the refusal and what to do next. A stack trace helps only
 * someone debugging Strongroom itself, so it is printed only with --log-level debug or trace.
 */
export function describeFailure(error: unknown, group: string | undefined, verbose: boolean): string[] {
  if (error instanceof ConfigError) return [`strongroom: ${error.message}`];
  if (error instanceof DomainError) {
    const hint = nextStep(error, group);
    return [`strongroom: ${error.message}${hint ? ` (${hint})` : ""}`];
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const path = (error as NodeJS.ErrnoException | undefined)?.path;
  if (code && path && FILE_ERRORS[code]) return [`strongroom: ${path}: ${FILE_ERRORS[code]}`];
  const message = error instanceof Error ? error.message : String(error);
  const line = `strongroom: unexpected failure: ${message} (run again with --log-level debug for the details)`;
  return verbose && error instanceof Error && error.stack ? [line, error.stack] : [line];
}
