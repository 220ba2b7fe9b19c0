import { AuthorityKeyIdentifierExtension, X509Certificate } from "@peculiar/x509";
import { base64url } from "jose";
import * as pkijs from "pkijs";
import type { HttpFetch } from "./acme-http.js";

const HOUR_MS = 3_600_000;

/**
 * RFC 9773 §4.1: the certificate's ARI name, base64url(AKI keyIdentifier) "." base64url(serial),
 * the serial as its DER INTEGER content (a leading zero byte kept, which @peculiar/x509's
 * `serialNumber` drops, so pkijs reads the raw INTEGER).
 */
export function certId(leafDer: Buffer): string {
  const certificate = new X509Certificate(new Uint8Array(leafDer));
  const aki = certificate.getExtension(AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error("The certificate has no authority key identifier for ARI to name it by");
  const serial = pkijs.Certificate.fromBER(new Uint8Array(leafDer)).serialNumber.valueBlock.valueHexView;
  return `${base64url.encode(Buffer.from(aki.keyId, "hex"))}.${base64url.encode(serial)}`;
}

/** Retry-After in seconds or as an HTTP date, kept between an hour and a day (RFC 9773 §4.3). */
function nextCheck(retryAfter: string | undefined, now: Date): Date {
  let ms = 6 * HOUR_MS;
  if (retryAfter && /^\d+$/.test(retryAfter)) ms = Number(retryAfter) * 1000;
  else if (retryAfter && !Number.isNaN(Date.parse(retryAfter))) ms = Date.parse(retryAfter) - now.getTime();
  return new Date(now.getTime() + Math.min(24 * HOUR_MS, Math.max(HOUR_MS, ms)));
}

/**
 * Asks the CA when to renew (RFC 9773 §4.2): a uniformly random moment inside its suggested window,
 * so that a CA's many subscribers do not all come back at once; a window already past means now.
 */
export async function fetchRenewalInfo(
  http: HttpFetch,
  url: string,
  now: Date,
  random: () => number = Math.random,
): Promise<{ renewAt: Date; nextCheckAt: Date }> {
  const r = await http(url);
  if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
  const { suggestedWindow } = JSON.parse(r.body.toString("utf8")) as {
    suggestedWindow?: { start?: string; end?: string };
  };
  const start = Date.parse(suggestedWindow?.start ?? "");
  const end = Date.parse(suggestedWindow?.end ?? "");
  if (Number.isNaN(start) || Number.isNaN(end) || end < start)
    throw new Error(`${url} gave no valid suggestedWindow`);
  const retryAfter = r.headers["retry-after"];
  const nextCheckAt = nextCheck(typeof retryAfter === "string" ? retryAfter : undefined, now);
  if (end <= now.getTime()) return { renewAt: now, nextCheckAt };
  const from = Math.max(start, now.getTime());
  return { renewAt: new Date(from + random() * (end - from)), nextCheckAt };
}
