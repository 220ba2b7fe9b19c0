import type { CrlService } from "../domain/ca/crl-service.js";
import type { Job } from "../domain/jobs/ports.js";

/**
 * Keeps every CA's CRLs ahead of their nextUpdate and its OCSP responder certificate valid. A
 * relying party holding a CRL past nextUpdate treats revocation status as unknown, and many then
 * fail closed, so the interval must stay well below half the CRL validity.
 */
export function createCrlJob(deps: { crls: Pick<CrlService, "refresh"> }, intervalMs = 300_000): Job {
  return {
    name: "crl",
    intervalMs,
    async run() {
      const { crls, responders, failed } = await deps.crls.refresh();
      const summary = `${crls} CRLs regenerated, ${responders} OCSP responder certificates renewed`;
      return failed.length > 0 ? `${summary}; ${failed.length} CAs failed: ${failed.join("; ")}` : summary;
    },
  };
}
