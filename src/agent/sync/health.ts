import { connect } from "node:tls";
import type { HealthCheck } from "./config.js";

/** The SHA-256 (hex) of the certificate the endpoint presents, or the connection's error. */
function presented(check: HealthCheck): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: check.host,
      port: check.port,
      ...(check.serverName !== undefined && { servername: check.serverName }),
      // Only which certificate is served matters here, not whether this host trusts it.
      rejectUnauthorized: false,
      timeout: 5000,
    });
    socket.once("secureConnect", () => {
      resolve(socket.getPeerCertificate().fingerprint256.replaceAll(":", "").toLowerCase());
      socket.end();
    });
    socket.once("timeout", () => socket.destroy(new Error("the TLS handshake timed out")));
    socket.once("error", reject);
  });
}

/**
 * Waits until the endpoint presents the certificate with `fingerprint`: a graceful reload swaps
 * workers over a moment, so one look right after it would see the old certificate.
 */
export async function presents(check: HealthCheck, fingerprint: string): Promise<string | undefined> {
  const deadline = Date.now() + check.timeoutMs;
  let last = "";
  for (;;) {
    try {
      const seen = await presented(check);
      if (seen === fingerprint) return undefined;
      last = `it presents ${seen}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline)
      return `${check.host}:${check.port} did not present the new certificate within ${check.timeoutMs} ms (${last})`;
    await new Promise((r) => setTimeout(r, 200));
  }
}
