import { DomainError } from "../../domain/errors.js";

// What the @azure/keyvault-* SDKs send, old and new (keyvault-api.md §1); the real service refuses others.
const SUPPORTED = new Set([
  "7.0",
  "7.1",
  "7.2",
  "7.3",
  "7.4",
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
