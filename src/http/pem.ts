/** PEM armour for DER (RFC 7468), 64 characters a line. */
export function toPem(label: string, der: Buffer): string {
  const body = der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** Every PEM block's DER, in order; bare base64 of one DER object is taken too. */
export function fromPem(text: string): Buffer[] {
  const blocks = [...text.matchAll(/-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END [A-Z0-9 ]+-----/g)];
  if (blocks.length > 0) return blocks.map((b) => Buffer.from((b[1] ?? "").replace(/\s+/g, ""), "base64"));
  const compact = text.replace(/\s+/g, "");
  return /^[A-Za-z0-9+/=]+$/.test(compact) ? [Buffer.from(compact, "base64")] : [];
}
