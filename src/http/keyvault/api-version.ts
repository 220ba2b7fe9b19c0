import { DomainError } from "../../domain/errors.js";

/**
 * Every api-version a released official SDK (JavaScript, Python, .NET, Java, Go) or the Azure CLI has
 * sent: the versions of azure-rest-api-specs' keyvault data plane, previews included. Debian's
 * azure-keyvault-keys 4.8 and az 2.45 send 7.4-preview.1; azure-keyvault 1.x sent 2016-10-01. A client
 * that pins an older version must keep working; the real service refuses only versions it never had.
 */
const SUPPORTED = new Set([
  "2015-06-01",
  "2016-10-01",
  "7.0-preview",
  "7.0",
  "7.1-preview",
  "7.1",
  "7.2-preview",
  "7.2",
  "7.3-preview",
  "7.3",
  "7.4-preview.1",
  "7.4",
  "7.5-preview.1",
  "7.5",
  "7.6-preview.1",
  "7.6-preview.2",
  "7.6",
  "2025-07-01",
  "2026-04-01",
]);

export const LATEST_API_VERSION = "2026-04-01";

export function checkApiVersion(version: unknown): string {
  if (typeof version !== "string" || version === "") {
    throw new DomainError(
      "BadParameter",
      "The api-version query parameter is required, e.g. ?api-version=7.6",
      {
        reason: "MissingApiVersionParameter",
      },
    );
  }
  if (!SUPPORTED.has(version)) {
    throw new DomainError(
      "BadParameter",
      `The specified version (${version}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`,
      { reason: "UnsupportedApiVersion" },
    );
  }
  return version;
}
