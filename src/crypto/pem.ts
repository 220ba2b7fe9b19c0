import { PemConverter } from "@peculiar/x509";

/**
 * PEM (RFC 7468) for every caller: files the server writes, wire fields that carry PEM, imports and
 * the chains ACME CAs send. One implementation, so a CRLF file, a block with headers or a missing
 * final newline reads the same everywhere.
 */

/** DER armoured under `label`, 64 characters a line, ending in a newline so blocks concatenate. */
export function toPem(label: string, der: Uint8Array): string {
  return `${PemConverter.encode(Buffer.from(der), label)}\n`;
}

export interface PemBlock {
  label: string;
  der: Buffer;
  /** The block as written, headers included: an encrypted traditional key needs them to be read. */
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Every PEM block in `text`, in order. */
export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(BLOCK)].map((m) => {
    const decoded = PemConverter.decode(m[0])[0];
    return { label: m[1] ?? "", der: Buffer.from(decoded ?? new ArrayBuffer(0)), text: m[0] };
  });
}

/** The DER of every block labelled `label`, in order. */
export function pemDer(text: string, label: string): Buffer[] {
  return pemBlocks(text)
    .filter((b) => b.label === label)
    .map((b) => b.der);
}

/** Whether `text` holds PEM at all (leading whitespace allowed). */
export function isPem(text: string): boolean {
  return /^\s*-----BEGIN [A-Z0-9 ]+-----/.test(text);
}

/**
 * The DER objects a user pasted: every PEM block, or bare base64 (standard or URL-safe) of one DER
 * object; nothing when it is neither.
 */
export function fromPem(text: string): Buffer[] {
  const blocks = pemBlocks(text);
  if (blocks.length > 0) return blocks.map((b) => b.der);
  const compact = text.replace(/\s+/g, "");
  return /^[A-Za-z0-9+/=_-]+$/.test(compact) ? [Buffer.from(compact, "base64")] : [];
}
