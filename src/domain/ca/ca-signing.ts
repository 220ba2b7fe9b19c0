import { randomPart } from "../ids.js";
import type { CertificateAuthority } from "./model.js";
import type { CaKeys } from "./ports.js";

/** Clock skew allowance: certificates are valid from a little before they are signed. */
export const BACKDATE_MS = 600_000;

/**
 * Serials are 128 random bits behind a 0x01 byte: positive, never shortened by DER's leading-zero
 * rule, and unguessable (CA/B Forum BR §7.1 asks for at least 64 random bits).
 */
export const newSerial = (): string => `01${randomPart(16).toString("hex")}`;

/** The sealing context of a CA's key: a key sealed for one CA does not open as another's. */
export const caKeyContext = (ca: { id: string }): string => `ca/${ca.id}`;

/** The signer of a CA's own key. */
export const caSigner = (keys: Pick<CaKeys, "signer">, ca: CertificateAuthority) =>
  keys.signer(ca.protection, ca.keyMaterial, caKeyContext(ca), ca.publicKey);
