import { randomBytes } from "node:crypto";
import type { CertificateKeys } from "../certificates/ports.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newVersionEvent } from "../events/model.js";
import { newVersion } from "../ids.js";
import {
  checkValidityWindow,
  createObjectLifecycle,
  openBackup,
  type Purged,
  withAttributeChanges,
} from "../objects/object-lifecycle.js";
import type { Sealer } from "../sealing/ports.js";
import { validateTags } from "../tags.js";
import type { Vault } from "../vaults/model.js";
import {
  type EncryptionAlgorithm,
  encryptionSpec,
  type SignatureAlgorithm,
  signatureSpec,
} from "./algorithms.js";
import {
  AES_SIZES,
  CURVES,
  type CurveName,
  type ImportJwk,
  KEY_OPERATIONS,
  type KeyAttributesInput,
  type KeyKind,
  type KeyOperation,
  type KeyUpdate,
  type KeyVersion,
  type Protection,
  type PublicKeyParts,
  type RotationPolicy,
  RSA_SIZES,
  type StoredKeyVersion,
} from "./model.js";
import type {
  CipherInput,
  CipherOutput,
  KeyProtector,
  KeyStore,
  ProtectedKey,
  PublicKeyCrypto,
} from "./ports.js";
import { normalizeRotationPolicy } from "./rotation-policy.js";

export interface KeyServiceDeps {
  store: KeyStore;
  software: KeyProtector;
  /** Present when an HSM is configured; premium vaults keep -HSM keys in it. */
  hsm?: KeyProtector | undefined;
  publicCrypto: PublicKeyCrypto;
  sealer: Sealer;
  clock: Clock;
}

export type KeyService = ReturnType<typeof createKeyService>;

export interface KeyCreateRequest extends KeyAttributesInput {
  kty: string;
  keySize?: number | undefined;
  publicExponent?: number | undefined;
  curve?: string | undefined;
  keyOps?: string[] | undefined;
  tags?: Record<string, string> | undefined;
}

export interface KeyImportRequest extends KeyAttributesInput {
  jwk: ImportJwk;
  hsm?: boolean | undefined;
  tags?: Record<string, string> | undefined;
}

const BACKUP_CONTEXT = "backup/key/v1";
const MAX_RANDOM_BYTES = 128;
const MAX_PUBLIC_EXPONENT = 0xffff_ffff;
/** Key Vault's eight operations; a longer list repeats one. */
const MAX_KEY_OPS = 8;

const DEFAULT_OPS: Record<KeyKind, KeyOperation[]> = {
  RSA: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
  EC: ["sign", "verify"],
  oct: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
};
const ALLOWED_OPS: Record<KeyKind, readonly KeyOperation[]> = {
  RSA: KEY_OPERATIONS,
  EC: ["sign", "verify", "import", "export"],
  oct: ["encrypt", "decrypt", "wrapKey", "unwrapKey", "import", "export"],
};

/** "RSA-HSM" → RSA in the HSM; "EC" → EC in software. */
export function parseKty(kty: string): { kind: KeyKind; protection: Protection } {
  const match = /^(RSA|EC|oct)(-HSM)?$/.exec(kty);
  if (!match) throw badParameter(`Unsupported kty "${kty}": use RSA, RSA-HSM, EC, EC-HSM or oct-HSM`);
  const kind = match[1] as KeyKind;
  return { kind, protection: match[2] || kind === "oct" ? "hsm" : "software" };
}

/**
 * A vault key's curve, from the public members its protector returned. Protectors also hold
 * Ed25519 keys, for private CAs; Key Vault has no OKP keys, so none may become a vault key.
 */
export function vaultCurve(publicKey: PublicKeyParts): CurveName | undefined {
  if (publicKey.crv === "Ed25519")
    throw badParameter("Ed25519 keys are for private CAs only: Key Vault keys are RSA, EC or oct");
  return publicKey.crv;
}

export const wireKty = (k: Pick<KeyVersion, "kind" | "protection">) =>
  k.protection === "hsm" ? `${k.kind}-HSM` : k.kind;

const contextOf = (vaultId: string, name: string, version: string) =>
  `${vaultId}/${name.toLowerCase()}/${version}`;

function keyOps(kind: KeyKind, requested: string[] | undefined): KeyOperation[] {
  if (requested === undefined) return [...DEFAULT_OPS[kind]];
  if (requested.length > MAX_KEY_OPS)
    throw badParameter(`key_ops may list at most ${MAX_KEY_OPS} operations, not ${requested.length}`);
  for (const op of requested) {
    if (!ALLOWED_OPS[kind].includes(op as KeyOperation)) {
      throw badParameter(
        `key_ops "${op}" is not valid for ${kind} keys; use ${ALLOWED_OPS[kind].join(", ")}`,
      );
    }
  }
  return [...new Set(requested as KeyOperation[])];
}

function withoutMaterial({ material: _material, ...version }: StoredKeyVersion): KeyVersion {
  return version;
}

interface BackupVersion
  extends Omit<KeyVersion, "vaultId" | "notBefore" | "expiresAt" | "createdAt" | "updatedAt"> {
  notBefore?: number | undefined;
  expiresAt?: number | undefined;
  createdAt: number;
  updatedAt: number;
  pkcs8: string;
}

export function createKeyService(deps: KeyServiceDeps) {
  const { store, software, hsm, publicCrypto, sealer, clock } = deps;

  function protectorFor(vault: Vault, protection: Protection): KeyProtector {
    if (protection === "software") return software;
    if (vault.sku !== "premium") {
      throw badParameter(`HSM-protected keys need a premium vault; vault ${vault.name} is ${vault.sku}`);
    }
    if (!hsm) {
      throw badParameter(
        "This installation has no HSM configured (pkcs11 settings); HSM-protected keys are unavailable",
      );
    }
    return hsm;
  }

  const objects = createObjectLifecycle({ store, clock, noun: "key", notFoundCode: "KeyNotFound" });
  const findStored = objects.find;

  async function destroyMaterial({ deleted, payloads }: Purged<KeyVersion>): Promise<void> {
    const protector = deleted.latest.protection === "hsm" ? hsm : software;
    for (const material of payloads) await protector?.destroy(material);
  }

  /** Refuses an operation the key's state or key_ops do not allow, as Key Vault does. */
  function checkUsable(key: KeyVersion, op: KeyOperation): void {
    const now = clock.now().getTime();
    const refuse = (reason: string, why: string) =>
      new DomainError("Forbidden", `Operation ${op} is not allowed on ${why}.`, { reason });
    if (!key.enabled) throw refuse("KeyDisabled", "a disabled key");
    if (key.notBefore && key.notBefore.getTime() > now)
      throw refuse("KeyNotYetValid", "a key that is not yet valid");
    if (key.expiresAt && key.expiresAt.getTime() <= now) throw refuse("KeyExpired", "an expired key");
    if (!key.keyOps.includes(op))
      throw refuse("KeyOperationForbidden", `this key: its key_ops do not include ${op}`);
  }

  async function addVersion(
    vault: Vault,
    name: string,
    build: (version: string, context: string) => Promise<StoredKeyVersion>,
  ): Promise<KeyVersion> {
    objects.checkName(name);
    const version = newVersion();
    const stored = await build(version, contextOf(vault.id, name, version));
    try {
      await store.addVersion(stored, [newVersionEvent(vault, "keys", stored, clock.now())]);
    } catch (error) {
      // The version never became visible: release what the protector made for it.
      await protectorFor(vault, stored.protection).destroy(stored.material);
      throw error;
    }
    return withoutMaterial(stored);
  }

  /**
   * Reads a BYOK transfer blob (Azure's .byok format: a JSON header naming the key-exchange key and
   * a ciphertext made with CKM_RSA_AES_KEY_WRAP) and finds its key-exchange key in this vault.
   */
  async function byokTransfer(vault: Vault, keyHsm: string) {
    let blob: { header?: { kid?: string; enc?: string }; ciphertext?: string };
    try {
      blob = JSON.parse(Buffer.from(keyHsm, "base64url").toString("utf8"));
    } catch {
      throw badParameter("key.key_hsm must be the base64url of a BYOK transfer blob (JSON)");
    }
    if (blob.header?.enc !== "CKM_RSA_AES_KEY_WRAP" || !blob.ciphertext || !blob.header.kid) {
      throw badParameter('The BYOK blob needs header.kid, header.enc "CKM_RSA_AES_KEY_WRAP" and ciphertext');
    }
    const path = /\/keys\/([0-9a-zA-Z-]+)\/([0-9a-f]{32})$/.exec(
      new URL(blob.header.kid, "https://x").pathname,
    );
    if (!path)
      throw badParameter("The BYOK blob's header.kid must be the versioned id of a key-exchange key");
    const kek = await findStored(vault, path[1] as string, path[2]);
    if (kek.protection !== "hsm" || kek.kind !== "RSA" || !kek.keyOps.includes("import")) {
      throw badParameter(
        `Key ${kek.name} is not a key-exchange key: it must be RSA-HSM with key_ops ["import"]`,
      );
    }
    checkUsable(kek, "import");
    return { kek, ciphertext: Buffer.from(blob.ciphertext, "base64url") };
  }

  async function importWrapped(
    protector: KeyProtector,
    transfer: { kek: StoredKeyVersion; ciphertext: Buffer },
    kind: KeyKind,
  ) {
    if (!protector.importWrapped) throw badParameter("This key protector cannot import BYOK transfer blobs");
    return protector.importWrapped(transfer.kek.material, transfer.ciphertext, kind);
  }

  function certificateKey(
    vault: Vault,
    name: string,
    version: string,
    kind: KeyKind,
    protection: Protection,
    made: ProtectedKey,
    curve: CurveName | undefined,
  ): StoredKeyVersion {
    return {
      ...baseVersion(vault, name, version, {}, {}),
      kind,
      protection,
      keySize: made.keySize,
      curve,
      keyOps: [...DEFAULT_OPS[kind]],
      publicKey: made.publicKey,
      material: made.material,
      managed: true,
    };
  }

  function spec(request: KeyCreateRequest) {
    const { kind, protection } = parseKty(request.kty);
    if (kind === "RSA") {
      const size = request.keySize ?? 2048;
      if (!(RSA_SIZES as readonly number[]).includes(size)) {
        throw badParameter(`RSA key_size must be 2048, 3072 or 4096, got ${size}`);
      }
      const exponent = request.publicExponent ?? 65537;
      // JWK and OpenSSL carry the exponent in 32 bits (an unsigned long): larger ones cannot be made.
      if (
        !Number.isInteger(exponent) ||
        exponent < 3 ||
        exponent > MAX_PUBLIC_EXPONENT ||
        exponent % 2 === 0
      ) {
        throw badParameter(
          `public_exponent must be an odd integer from 3 to ${MAX_PUBLIC_EXPONENT} (2^32-1), got ${exponent}`,
        );
      }
      if (request.curve !== undefined) throw badParameter("crv is not allowed for RSA keys");
      return { kind, protection, keySize: size, publicExponent: exponent };
    }
    if (kind === "EC") {
      const curve = (request.curve ?? "P-256") as CurveName;
      if (!CURVES.includes(curve))
        throw badParameter(`Unsupported curve "${curve}": use ${CURVES.join(", ")}`);
      if (request.keySize !== undefined)
        throw badParameter("key_size is not allowed for EC keys; the curve sets it");
      return { kind, protection, curve };
    }
    const size = request.keySize ?? 256;
    if (!(AES_SIZES as readonly number[]).includes(size)) {
      throw badParameter(`oct key_size must be 128, 192 or 256, got ${size}`);
    }
    return { kind, protection, keySize: size };
  }

  /** Validates attributes and tags before any key material is made for them. */
  function checkAttributes(input: KeyAttributesInput, tags: Record<string, string> | undefined): void {
    // Key Vault refuses exportable keys without a release policy, made or imported.
    if (input.exportable) {
      throw badParameter("Exportable keys must have a release policy, and key release is not supported here");
    }
    checkValidityWindow(input);
    validateTags(tags);
  }

  function baseVersion(
    vault: Vault,
    name: string,
    version: string,
    input: KeyAttributesInput,
    tags: Record<string, string> | undefined,
  ) {
    const now = clock.now();
    return {
      vaultId: vault.id,
      name,
      version,
      enabled: input.enabled ?? true,
      notBefore: input.notBefore,
      expiresAt: input.expiresAt,
      exportable: input.exportable ?? false,
      tags: validateTags(tags),
      managed: false,
      createdAt: now,
      updatedAt: now,
    };
  }

  async function create(vault: Vault, name: string, request: KeyCreateRequest): Promise<KeyVersion> {
    const s = spec(request);
    const ops = keyOps(s.kind, request.keyOps);
    checkAttributes(request, request.tags);
    const protector = protectorFor(vault, s.protection);
    await objects.refuseIfManaged(vault, name, "create");
    return addVersion(vault, name, async (version, context) => {
      const made = await protector.generate(s, context);
      return {
        ...baseVersion(vault, name, version, request, request.tags),
        kind: s.kind,
        protection: s.protection,
        keySize: made.keySize ?? s.keySize,
        curve: "curve" in s ? s.curve : undefined,
        keyOps: ops,
        publicKey: made.publicKey,
        material: made.material,
      };
    });
  }

  return {
    create,

    /** What HSM keys report as hsmPlatform: the configured token's maker and model. */
    hsmPlatform: hsm?.platform,

    async import(vault: Vault, name: string, request: KeyImportRequest): Promise<KeyVersion> {
      const { jwk } = request;
      if (typeof jwk?.kty !== "string") throw badParameter("key.kty is required");
      const { kind, protection: byKty } = parseKty(jwk.kty);
      const protection: Protection = request.hsm || jwk.key_hsm ? "hsm" : byKty;
      const ops = keyOps(kind, jwk.key_ops);
      checkAttributes(request, request.tags);
      const protector = protectorFor(vault, protection);
      await objects.refuseIfManaged(vault, name, "import");
      const transfer = jwk.key_hsm === undefined ? undefined : await byokTransfer(vault, jwk.key_hsm);
      return addVersion(vault, name, async (version, context) => {
        const made = transfer
          ? await importWrapped(protector, transfer, kind)
          : await protector.importJwk(jwk, context);
        return {
          ...baseVersion(vault, name, version, request, request.tags),
          kind,
          protection,
          keySize: made.keySize,
          curve: vaultCurve(made.publicKey),
          keyOps: ops,
          publicKey: made.publicKey,
          material: made.material,
        };
      });
    },

    async get(vault: Vault, name: string, version?: string): Promise<KeyVersion> {
      return withoutMaterial(await findStored(vault, name, version));
    },

    async update(
      vault: Vault,
      name: string,
      version: string | undefined,
      changes: KeyUpdate,
    ): Promise<KeyVersion> {
      const stored = await findStored(vault, name, version);
      objects.refuseManaged(stored, "update");
      const next = withAttributeChanges(
        {
          ...withoutMaterial(stored),
          ...(changes.keyOps !== undefined && { keyOps: keyOps(stored.kind, changes.keyOps) }),
        },
        changes,
        clock.now(),
      );
      await store.updateVersion(next);
      return next;
    },

    list: objects.list,
    listVersions: objects.listVersions,
    remove: objects.remove,
    getDeleted: objects.getDeleted,
    listDeleted: objects.listDeleted,
    recover: objects.recover,

    /** Purges a key whose retention has ended and destroys its material; false when none was due. */
    async purgeDue(vault: Vault, name: string): Promise<boolean> {
      const purged = await objects.purgeDue(vault, name);
      if (purged) await destroyMaterial(purged);
      return purged !== undefined;
    },

    /** Purges the rows, then destroys what the protector holds (HSM objects) for every version. */
    async purge(vault: Vault, name: string): Promise<void> {
      await destroyMaterial(await objects.purge(vault, name));
    },

    /** A sealed blob of every version, restorable only where the same master key is held. */
    async backup(vault: Vault, name: string): Promise<Buffer> {
      objects.checkName(name);
      const versions = await store.allVersions(vault.id, name);
      const first = versions[0];
      if (!first) throw objects.notFound(name);
      // Key Vault answers 403: "not allowed on this Key, since it is associated with a certificate".
      objects.refuseManaged(first, "backup");
      const protector = protectorFor(vault, first.protection);
      const document: BackupVersion[] = [];
      for (const { vaultId: _v, material, notBefore, expiresAt, createdAt, updatedAt, ...rest } of versions) {
        const pkcs8 = await protector.exportForBackup(material, contextOf(vault.id, name, rest.version));
        document.push({
          ...rest,
          notBefore: notBefore?.getTime(),
          expiresAt: expiresAt?.getTime(),
          createdAt: createdAt.getTime(),
          updatedAt: updatedAt.getTime(),
          pkcs8: pkcs8.toString("base64"),
        });
      }
      return sealer.seal(Buffer.from(JSON.stringify({ kind: "key", versions: document })), BACKUP_CONTEXT);
    },

    async restore(vault: Vault, blob: Uint8Array): Promise<KeyVersion> {
      const document = openBackup<{ kind: string; versions: BackupVersion[] }>(sealer, BACKUP_CONTEXT, blob);
      if (document.kind !== "key" || document.versions.length === 0)
        throw badParameter("The backup blob does not hold a key");
      const versions: StoredKeyVersion[] = [];
      for (const { pkcs8, notBefore, expiresAt, createdAt, updatedAt, ...rest } of document.versions) {
        const protector = protectorFor(vault, rest.protection);
        versions.push({
          ...rest,
          vaultId: vault.id,
          notBefore: notBefore === undefined ? undefined : new Date(notBefore),
          expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
          createdAt: new Date(createdAt),
          updatedAt: new Date(updatedAt),
          material: await protector.importFromBackup(
            Buffer.from(pkcs8, "base64"),
            contextOf(vault.id, rest.name, rest.version),
          ),
        });
      }
      await store.restore(versions);
      return withoutMaterial(versions[versions.length - 1] as StoredKeyVersion);
    },

    /** A new version with the latest version's type, size, curve, operations and tags. */
    async rotate(vault: Vault, name: string): Promise<KeyVersion> {
      const latest = await findStored(vault, name);
      objects.refuseManaged(latest, "rotate");
      const policy = await store.getRotationPolicy(vault.id, name);
      const expiresAt = policy?.expiryTime ? addDuration(clock.now(), policy.expiryTime) : undefined;
      return create(vault, name, {
        kty: wireKty(latest),
        keySize: latest.kind === "EC" ? undefined : latest.keySize,
        curve: latest.curve,
        keyOps: latest.keyOps,
        tags: latest.tags,
        expiresAt,
        ...(latest.publicKey.e && { publicExponent: exponentOf(latest.publicKey.e) }),
      });
    },

    async getRotationPolicy(vault: Vault, name: string): Promise<RotationPolicy> {
      await findStored(vault, name);
      return (
        (await store.getRotationPolicy(vault.id, name)) ?? normalizeRotationPolicy({ lifetimeActions: [] })
      );
    },

    async putRotationPolicy(vault: Vault, name: string, policy: RotationPolicy): Promise<RotationPolicy> {
      objects.refuseManaged(await findStored(vault, name), "setrotationpolicy");
      const existing = await store.getRotationPolicy(vault.id, name);
      const now = clock.now();
      const next = {
        ...normalizeRotationPolicy(policy),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await store.putRotationPolicy(vault.id, name, next);
      return next;
    },

    async sign(vault: Vault, name: string, version: string | undefined, alg: string, digest: Buffer) {
      const key = await findStored(vault, name, version);
      checkUsable(key, "sign");
      const s = signatureSpec(alg);
      checkAlgorithm(key, alg, s.family === "ecdsa" ? "EC" : "RSA", s.curve);
      if (digest.length !== s.digestBytes) {
        throw badParameter(`${alg} signs a ${s.digestBytes}-byte digest; got ${digest.length} bytes`);
      }
      const signature = await protectorFor(vault, key.protection).sign(
        key.material,
        contextOf(vault.id, key.name, key.version),
        alg as SignatureAlgorithm,
        digest,
      );
      return { key: withoutMaterial(key), value: signature };
    },

    async verify(
      vault: Vault,
      name: string,
      version: string | undefined,
      alg: string,
      digest: Buffer,
      signature: Buffer,
    ) {
      const key = await findStored(vault, name, version);
      checkUsable(key, "verify");
      const s = signatureSpec(alg);
      checkAlgorithm(key, alg, s.family === "ecdsa" ? "EC" : "RSA", s.curve);
      if (digest.length !== s.digestBytes) {
        throw badParameter(`${alg} verifies a ${s.digestBytes}-byte digest; got ${digest.length} bytes`);
      }
      return publicCrypto.verify(key.publicKey, alg as SignatureAlgorithm, digest, signature);
    },

    /** encrypt and wrapKey: RSA with the public key here, AES inside the HSM. */
    async encrypt(
      vault: Vault,
      name: string,
      version: string | undefined,
      op: "encrypt" | "wrapKey",
      alg: string,
      input: CipherInput,
    ): Promise<{ key: KeyVersion; result: CipherOutput }> {
      const key = await findStored(vault, name, version);
      checkUsable(key, op);
      const s = encryptionSpec(alg);
      checkAlgorithm(key, alg, s.kind);
      checkWrapMode(op, s.mode, alg);
      if (s.kind === "RSA") {
        return {
          key: withoutMaterial(key),
          result: { data: publicCrypto.encrypt(key.publicKey, alg as EncryptionAlgorithm, input.data) },
        };
      }
      checkAesSize(key, s.aesBits, alg);
      const result = await protectorFor(vault, key.protection).encrypt(
        key.material,
        contextOf(vault.id, key.name, key.version),
        alg as EncryptionAlgorithm,
        input,
      );
      return { key: withoutMaterial(key), result };
    },

    /** decrypt and unwrapKey, always by the key's protector. */
    async decrypt(
      vault: Vault,
      name: string,
      version: string | undefined,
      op: "decrypt" | "unwrapKey",
      alg: string,
      input: CipherInput,
    ): Promise<{ key: KeyVersion; data: Buffer }> {
      const key = await findStored(vault, name, version);
      checkUsable(key, op);
      const s = encryptionSpec(alg);
      checkAlgorithm(key, alg, s.kind);
      checkWrapMode(op, s.mode, alg);
      if (s.kind === "oct") checkAesSize(key, s.aesBits, alg);
      const data = await protectorFor(vault, key.protection).decrypt(
        key.material,
        contextOf(vault.id, key.name, key.version),
        alg as EncryptionAlgorithm,
        input,
      );
      return { key: withoutMaterial(key), data };
    },

    /** The key side of certificates: same protectors, contexts and rules as keys made directly. */
    certificateKeys: {
      async generate(vault, name, version, policy, hsmId?: Buffer) {
        const { kind, protection } = parseKty(policy.key.kty);
        const protector = protectorFor(vault, protection);
        const made = await protector.generate(
          { kind, protection, keySize: policy.key.keySize, curve: policy.key.curve },
          contextOf(vault.id, name, version),
          hsmId,
        );
        return certificateKey(vault, name, version, kind, protection, made, policy.key.curve);
      },
      async importKey(vault, name, version, jwk, policy) {
        const { protection } = parseKty(policy.key.kty);
        const { kind } = parseKty(jwk.kty);
        const made = await protectorFor(vault, protection).importJwk(jwk, contextOf(vault.id, name, version));
        return certificateKey(vault, name, version, kind, protection, made, vaultCurve(made.publicKey));
      },
      signer(vault, key) {
        const protector = protectorFor(vault, key.protection);
        const context = contextOf(vault.id, key.name, key.version);
        return {
          publicKey: key.publicKey,
          sign: (alg, digest) => protector.sign(key.material, context, alg, digest),
        };
      },
      async exportable(vault, key, policy) {
        if (!policy.key.exportable || key.protection !== "software") return undefined;
        return software.exportForBackup(key.material, contextOf(vault.id, key.name, key.version));
      },
      async destroy(key) {
        await (key.protection === "hsm" ? hsm : software)?.destroy(key.material);
      },
      async destroyUnstored(hsmIds) {
        // An HSM key's material is its id.
        for (const id of hsmIds) await hsm?.destroy(id);
      },
      versions: (vault, name) => store.allVersions(vault.id, name),
      exportForBackup: (vault, key) =>
        protectorFor(vault, key.protection).exportForBackup(
          key.material,
          contextOf(vault.id, key.name, key.version),
        ),
    } satisfies CertificateKeys,

    /** A vault removal guard: HSM objects outlive database rows, so their keys must be purged first. */
    async hsmKeysBlockingRemoval(vault: Vault): Promise<string | undefined> {
      const count = await store.countHsmKeys(vault.id);
      return count > 0
        ? `it holds ${count} HSM key(s); delete and purge them so their HSM objects are destroyed`
        : undefined;
    },

    randomBytes(count: number): Buffer {
      if (!Number.isInteger(count) || count < 1 || count > MAX_RANDOM_BYTES) {
        throw badParameter(`count must be an integer from 1 to ${MAX_RANDOM_BYTES}`);
      }
      return randomBytes(count);
    },
  };
}

function checkAlgorithm(key: KeyVersion, alg: string, kind: KeyKind, curve?: CurveName): void {
  if (key.kind !== kind || (curve !== undefined && key.curve !== curve)) {
    throw badParameter(
      `Key and algorithm are incompatible: ${alg} needs ${curve ? `an EC ${curve}` : `an ${kind}`} key, and this is ${key.kind === "EC" ? `an EC ${key.curve}` : `an ${key.kind}`} key.`,
    );
  }
}

function checkWrapMode(op: string, mode: string, alg: string): void {
  const wrapOnly = mode === "kw";
  const isWrap = op === "wrapKey" || op === "unwrapKey";
  if (wrapOnly && !isWrap)
    throw badParameter(`${alg} is a key-wrapping algorithm: use wrapKey and unwrapKey`);
  if (isWrap && (mode === "gcm" || mode === "cbc" || mode === "cbcpad")) {
    throw badParameter(
      `${alg} is not a key-wrapping algorithm: use A128KW, A192KW, A256KW or an RSA algorithm`,
    );
  }
}

function checkAesSize(key: KeyVersion, bits: number | undefined, alg: string): void {
  if (bits !== undefined && key.keySize !== bits) {
    throw badParameter(
      `Key and algorithm are incompatible: ${alg} needs a ${bits}-bit key, and this key has ${key.keySize} bits`,
    );
  }
}

const exponentOf = (e: string): number => {
  const bytes = Buffer.from(e, "base64url");
  return bytes.readUIntBE(0, bytes.length);
};

/** Adds an ISO 8601 duration (years, months, weeks, days, time) to a date. */
export function addDuration(from: Date, duration: string): Date {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(
    duration,
  );
  if (!m) throw badParameter(`"${duration}" is not an ISO 8601 duration`);
  const [, y, mo, w, d, h, mi, s] = m.map((v) => Number(v ?? 0));
  const date = new Date(from);
  date.setUTCFullYear(
    date.getUTCFullYear() + (y ?? 0),
    date.getUTCMonth() + (mo ?? 0),
    date.getUTCDate() + (w ?? 0) * 7 + (d ?? 0),
  );
  return new Date(date.getTime() + ((h ?? 0) * 3600 + (mi ?? 0) * 60 + (s ?? 0)) * 1000);
}
