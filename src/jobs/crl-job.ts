import type { CaService } from "../domain/ca/ca-service.js";
import type { Job } from "../domain/jobs/ports.js";

/**
 * Keeps every CA's CRLs ahead of their nextUpdate and its OCSP responder certificate valid. A
 * relying party holding a CRL past nextUpdate treats revocation status as unknown, and many then
 * fail closed, so the interval must stay well below half the CRL validity.
 */
export function createCrlJob(deps: { ca: Pick<CaService, "refresh"> }, intervalMs = 300_000): Job {
  return {
    name: "crl",
    intervalMs,
    async run() {
      const { crls, responders, failed } = await deps.ca.refresh();
      const summary = `${crls} CRLs regenerated, ${responders} OCSP responder certificates renewed`;
      return failed.length > 0 ? `${summary}; ${failed.length} CAs failed: ${failed.join("; ")}` : summary;
    },
  };
}
