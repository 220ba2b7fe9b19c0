/**
 * Envelope encryption at rest. `context` is bound into the ciphertext as associated data, so a sealed
 * value copied to another row (another vault, name or version) no longer opens.
 */
export interface Sealer {
  /** Encrypts under a fresh data key wrapped by the master key. */
  seal(plaintext: Uint8Array, context: string): Buffer;
  /** Decrypts; throws when the data was altered, sealed for another context, or by another master key. */
  open(sealed: Uint8Array, context: string): Buffer;
}
