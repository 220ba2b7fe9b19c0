import type { VersionedStore } from "../objects/ports.js";
import type { EncryptionAlgorithm, SignatureAlgorithm } from "./algorithms.js";
import type {
  ImportJwk,
  KeyCreateSpec,
  KeyKind,
  KeyVersion,
  Protection,
  PublicKeyParts,
  RotationPolicy,
  StoredKeyVersion,
} from "./model.js";

export interface ProtectedKey {
  publicKey: PublicKeyParts;
  keySize?: number | undefined;
  /** Opaque to the domain: a sealed private key, or the id of an object inside the HSM. */
  material: Buffer;
}

export interface CipherInput {
  data: Buffer;
  iv?: Buffer | undefined;
  aad?: Buffer | undefined;
  tag?: Buffer | undefined;
}

export interface CipherOutput {
  data: Buffer;
  iv?: Buffer | undefined;
  tag?: Buffer | undefined;
  aad?: Buffer | undefined;
}

/**
 * Holds private key material and performs every operation that needs it. `context` names the key
 * version; a software protector binds its sealing to it.
 */
export interface KeyProtector {
  readonly protection: Protection;
  /** The HSM's maker and model, as the hsmPlatform attribute of its keys reports; absent in software. */
  readonly platform?: string | undefined;
  /**
   * `id`: the HSM object's id, chosen by a caller that records it durably before the key is made so
   * that, should it die before storing the key, the key can be found and destroyed (see
   * CertificateKeys.destroyUnstored); a software key leaves nothing behind and ignores it.
   */
  generate(spec: KeyCreateSpec, context: string, id?: Buffer): Promise<ProtectedKey>;
  /** Takes a JWK with its private members; the plaintext never outlives the call. */
  importJwk(jwk: ImportJwk, context: string): Promise<ProtectedKey>;
  sign(material: Buffer, context: string, alg: SignatureAlgorithm, digest: Buffer): Promise<Buffer>;
  /** PureEdDSA (RFC 8032 §5.1.6) with an Ed25519 key, which only CAs have: signs the message itself. */
  signMessage(material: Buffer, context: string, message: Buffer): Promise<Buffer>;
  encrypt(
    material: Buffer,
    context: string,
    alg: EncryptionAlgorithm,
    input: CipherInput,
  ): Promise<CipherOutput>;
  decrypt(material: Buffer, context: string, alg: EncryptionAlgorithm, input: CipherInput): Promise<Buffer>;
  /**
   * Bring your own key: unwraps a key transferred under the key-exchange key `kekMaterial` with
   * CKM_RSA_AES_KEY_WRAP (RSA-OAEP-SHA1 wrapped AES-256 key, then RFC 5649 AES key wrap of the PKCS#8
   * key), without the key ever existing in plaintext outside the HSM. Absent where unsupported.
   */
  importWrapped?(kekMaterial: Buffer, transfer: Buffer, kind: KeyKind): Promise<ProtectedKey>;
  /** The private key as PKCS#8 DER for a sealed backup blob; refused where the key may not leave. */
  exportForBackup(material: Buffer, context: string): Promise<Buffer>;
  /** Takes back what exportForBackup gave, under a new context. */
  importFromBackup(pkcs8: Buffer, context: string): Promise<Buffer>;
  /** Destroys the material for good (purge). */
  destroy(material: Buffer): Promise<void>;
}

export interface KeyStore extends VersionedStore<KeyVersion, StoredKeyVersion> {
  getRotationPolicy(vaultId: string, name: string): Promise<RotationPolicy | undefined>;
  /** Stores the policy of a live key. */
  putRotationPolicy(vaultId: string, name: string, policy: RotationPolicy): Promise<void>;
  /** How many keys of the vault, live or deleted, have versions in the HSM. */
  countHsmKeys(vaultId: string): Promise<number>;
}

/** Where the public-key operations run: no secret involved, so no protector either. */
export interface PublicKeyCrypto {
  verify(publicKey: PublicKeyParts, alg: SignatureAlgorithm, digest: Buffer, signature: Buffer): boolean;
  encrypt(publicKey: PublicKeyParts, alg: EncryptionAlgorithm, plaintext: Buffer): Buffer;
}
