import { createECDH, createHash, ECDH, randomBytes, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import * as asn1 from "asn1js";
import * as graphene from "graphene-pk11";
import { badParameter, DomainError } from "../domain/errors.js";
import { ENCRYPTION_ALGORITHMS, SIGNATURE_ALGORITHMS } from "../domain/keys/algorithms.js";
import type { CurveName, ImportJwk, KeyCreateSpec, PublicKeyParts } from "../domain/keys/model.js";
import type { CipherOutput, KeyProtector, ProtectedKey } from "../domain/keys/ports.js";
import { OPENSSL_CURVE, privateKeyFromJwk, publicKeyFromParts, publicParts } from "./jwk.js";
import { nativeDigest } from "./native-digest.js";

export interface Pkcs11Settings {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  tokenLabel?: string | undefined;
  slot?: number | undefined;
  pin?: string | undefined;
  pinFile?: string | undefined;
}

// RFC 5480 §2.1.1.1 and SEC 2 curve OIDs, DER encoded, as CKA_EC_PARAMS wants them.
const EC_PARAMS: Record<CurveName, string> = {
  "P-256": "06082a8648ce3d030107",
  "P-384": "06052b81040022",
  "P-521": "06052b81040023",
  "P-256K": "06052b8104000a",
};
const CURVE_BYTES: Record<CurveName, number> = { "P-256": 32, "P-384": 48, "P-521": 66, "P-256K": 32 };

// PKCS#11 v3.0 Edwards-curve values (pkcs11t.h), which graphene-pk11 2.3 does not name.
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
/** Without parameters: PureEdDSA Ed25519 (RFC 8032 §5.1), over the whole message. */
const CKM_EDDSA = 0x1057;
/** CKA_EC_PARAMS naming the curve by RFC 8410's id-Ed25519 (1.3.101.112). */
const ED25519_PARAMS = Buffer.from("06032b6570", "hex");

// RFC 8017 §9.2 note 1: the DigestInfo prefix CKM_RSA_PKCS expects in front of a bare digest.
const DIGEST_INFO: Record<string, Buffer> = {
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  sha512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};
const MECH_HASH: Record<string, [graphene.MechanismEnum, graphene.RsaMgf]> = {
  sha1: [graphene.MechanismEnum.SHA1, graphene.RsaMgf.MGF1_SHA1],
  sha256: [graphene.MechanismEnum.SHA256, graphene.RsaMgf.MGF1_SHA256],
  sha384: [graphene.MechanismEnum.SHA384, graphene.RsaMgf.MGF1_SHA384],
  sha512: [graphene.MechanismEnum.SHA512, graphene.RsaMgf.MGF1_SHA512],
};
const mechHash = (hash: string): [graphene.MechanismEnum, graphene.RsaMgf] =>
  MECH_HASH[hash] as [graphene.MechanismEnum, graphene.RsaMgf];

const PRIVATE = { token: true, private: true, sensitive: true, extractable: false };
const PROBE = Buffer.from("strongroom public point probe");

function pin(settings: Pkcs11Settings): string {
  if (settings.pin) return settings.pin;
  if (settings.pinFile) {
    try {
      return readFileSync(settings.pinFile, "utf8").trim();
    } catch (error) {
      throw new Error(
        `Cannot read the HSM PIN file ${settings.pinFile} (${(error as NodeJS.ErrnoException).code}): pkcs11PinFile (STRONGROOM_PKCS11_PIN_FILE) must name a file this process can read, holding the token's user PIN`,
        { cause: error },
      );
    }
  }
  throw new Error("The HSM needs a user PIN: set STRONGROOM_PKCS11_PIN or pkcs11PinFile");
}

/** The PKCS#11 return value (CKR_…) a graphene-pk11 error carries, for messages that name it. */
const returnValue = (error: unknown) => /CKR_\w+/.exec(String(error))?.[0] ?? String(error);

/** The EC point from CKA_EC_POINT: a DER OCTET STRING around 04‖x‖y (SEC 1 §2.3.3). */
export function ecPublicParts(curve: CurveName, pointDer: Buffer): PublicKeyParts {
  const size = CURVE_BYTES[curve];
  // A bare point starts with 04 too, which also reads as an OCTET STRING tag with x's first byte as
  // its length: only a wrapper spanning the whole attribute is one.
  const parsed = pointDer.length === 1 + 2 * size ? undefined : asn1.fromBER(new Uint8Array(pointDer));
  const point =
    parsed && parsed.offset === pointDer.length && parsed.result instanceof asn1.OctetString
      ? Buffer.from(parsed.result.valueBlock.valueHexView)
      : pointDer;
  if (point[0] !== 4 || point.length !== 1 + 2 * size)
    throw new Error("The HSM returned an unexpected EC point");
  return {
    crv: curve,
    x: point.subarray(1, 1 + size).toString("base64url"),
    y: point.subarray(1 + size).toString("base64url"),
  };
}

/** CKA_EC_POINT for an uncompressed point 04‖x‖y: a DER OCTET STRING around it (PKCS#11 §2.3.3). */
const ecPointDer = (point: Buffer) => Buffer.from(new asn1.OctetString({ valueHex: point }).toBER());

/**
 * CKA_EC_POINT of an Ed25519 key: the 32 bytes of RFC 8032 §5.1.5, in a DER OCTET STRING as
 * SoftHSM2 writes it, or bare as some tokens return it.
 */
function ed25519PublicParts(point: Buffer): PublicKeyParts {
  const key = point.length === 34 && point[0] === 0x04 && point[1] === 32 ? point.subarray(2) : point;
  if (key.length !== 32) throw new Error("The HSM returned an unexpected Ed25519 public key");
  return { crv: "Ed25519", x: key.toString("base64url") };
}

const stripZeros = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

function run<T>(start: (cb: (error: Error | null, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    start((error, result) => (error ? reject(error) : resolve(result))),
  );
}

/**
 * Keys generated inside a PKCS#11 token as sensitive and non-extractable; every private operation is
 * the token's. The stored material is only the object's CKA_ID.
 */
export function createPkcs11KeyProtector(settings: Pkcs11Settings): KeyProtector & { close(): void } {
  try {
    return withCleanOpenSslErrors(oneAtATime(openPkcs11KeyProtector(settings)));
  } finally {
    nativeDigest.clearErrors();
  }
}

/**
 * One operation at a time on the token's session: SoftHSM2 (like many tokens) refuses any call
 * while another operation is active on the session (CKR_OPERATION_ACTIVE), and an asynchronous
 * signature runs on a worker thread while JavaScript goes on, so overlapping requests (a CRL and an
 * OCSP response, say) would otherwise fail each other. `close` is not queued.
 */
function oneAtATime<T extends object>(protector: T): T {
  let tail: Promise<unknown> = Promise.resolve();
  const wrapped = {} as Record<string, unknown>;
  for (const [name, value] of Object.entries(protector)) {
    wrapped[name] =
      typeof value === "function" && name !== "close"
        ? (...args: unknown[]) => {
            const result = tail.then(() => value(...args));
            tail = result.catch(() => undefined);
            return result;
          }
        : value;
  }
  return wrapped as T;
}

/** Every call leaves OpenSSL's error queue empty, however the token's own OpenSSL use ended. */
function withCleanOpenSslErrors<T extends object>(protector: T): T {
  const wrapped = {} as Record<string, unknown>;
  for (const [name, value] of Object.entries(protector)) {
    wrapped[name] =
      typeof value === "function"
        ? (...args: unknown[]) => {
            try {
              const result = value(...args);
              return result instanceof Promise ? result.finally(() => nativeDigest.clearErrors()) : result;
            } finally {
              nativeDigest.clearErrors();
            }
          }
        : value;
  }
  return wrapped as T;
}

function loadModule(path: string): graphene.Module {
  let mod: graphene.Module;
  try {
    mod = graphene.Module.load(path);
  } catch (error) {
    throw new Error(
      `Cannot load the PKCS#11 module ${path} (${(error as Error).message}): pkcs11Module (STRONGROOM_PKCS11_MODULE) must be the path of the HSM vendor's PKCS#11 library`,
      { cause: error },
    );
  }
  mod.initialize();
  return mod;
}

function openPkcs11KeyProtector(settings: Pkcs11Settings): KeyProtector & { close(): void } {
  const mod = loadModule(settings.module);
  const slots = mod.getSlots(true);
  let slot: graphene.Slot | undefined;
  for (let i = 0; i < slots.length; i++) {
    const candidate = slots.items(i);
    if (
      settings.tokenLabel !== undefined
        ? candidate.getToken().label === settings.tokenLabel
        : i === (settings.slot ?? 0)
    ) {
      slot = candidate;
      break;
    }
  }
  if (!slot) {
    mod.finalize();
    throw new Error(
      `No PKCS#11 token ${settings.tokenLabel ? `labelled "${settings.tokenLabel}"` : `in slot ${settings.slot ?? 0}`} in ${settings.module}: set pkcs11TokenLabel to a token's label, or pkcs11Slot to an index below ${slots.length} (the module's slots with a token)`,
    );
  }
  const token = slot.getToken();
  const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
  try {
    session.login(pin(settings), graphene.UserType.USER);
  } catch (error) {
    session.close();
    mod.finalize();
    if (!/CKR_/.test(String(error))) throw error;
    throw new Error(
      `The HSM token "${token.label}" refused the user PIN (${returnValue(error)}): check pkcs11Pin (STRONGROOM_PKCS11_PIN) or the file pkcs11PinFile names`,
      { cause: error },
    );
  }

  function find(id: Buffer, objectClass: graphene.ObjectClass): graphene.Key {
    const found = session.find({ class: objectClass, id });
    if (found.length === 0) {
      throw new DomainError("Unavailable", "The key's object is missing from the HSM token", {
        reason: "HsmKeyMissing",
      });
    }
    return found.items(0).toType<graphene.Key>();
  }

  const privateOf = (material: Buffer) => {
    const id = material;
    const secret = session.find({ class: graphene.ObjectClass.SECRET_KEY, id });
    return secret.length > 0
      ? secret.items(0).toType<graphene.Key>()
      : find(id, graphene.ObjectClass.PRIVATE_KEY);
  };

  function rsaPublic(publicKey: graphene.Key): PublicKeyParts {
    const attrs = publicKey.getAttribute({ modulus: null, publicExponent: null });
    return {
      n: stripZeros(attrs.modulus as Buffer).toString("base64url"),
      e: stripZeros(attrs.publicExponent as Buffer).toString("base64url"),
    };
  }

  /** The public half of an imported key as a token object beside it, as the token keeps a generated pair. */
  function storePublicHalf(
    id: Buffer,
    label: string,
    half: { modulus: Buffer; publicExponent: Buffer } | { paramsEC: Buffer; pointEC: Buffer },
  ): void {
    session.create({
      class: graphene.ObjectClass.PUBLIC_KEY,
      token: true,
      verify: true,
      id,
      label,
      ...("modulus" in half
        ? { keyType: graphene.KeyType.RSA, encrypt: true, wrap: true, ...half }
        : { keyType: graphene.KeyType.EC, ...half }),
    });
  }

  function generate(spec: KeyCreateSpec, id: Buffer): ProtectedKey {
    const label = `strongroom-${id.toString("hex")}`;
    if (spec.kind === "oct") {
      session.generateKey(graphene.KeyGenMechanism.AES, {
        ...PRIVATE,
        class: graphene.ObjectClass.SECRET_KEY,
        keyType: graphene.KeyType.AES,
        valueLen: (spec.keySize ?? 256) / 8,
        encrypt: true,
        decrypt: true,
        wrap: true,
        unwrap: true,
        id,
        label,
      });
      return { publicKey: {}, keySize: spec.keySize ?? 256, material: id };
    }
    if (spec.kind === "RSA") {
      const exponent = Buffer.alloc(4);
      exponent.writeUInt32BE(spec.publicExponent ?? 65537);
      const pair = session.generateKeyPair(
        graphene.KeyGenMechanism.RSA,
        {
          keyType: graphene.KeyType.RSA,
          token: true,
          modulusBits: spec.keySize ?? 2048,
          publicExponent: stripZeros(exponent),
          verify: true,
          encrypt: true,
          wrap: true,
          id,
          label,
        },
        { ...PRIVATE, keyType: graphene.KeyType.RSA, sign: true, decrypt: true, unwrap: true, id, label },
      );
      return { publicKey: rsaPublic(pair.publicKey), keySize: spec.keySize ?? 2048, material: id };
    }
    if (spec.kind === "OKP") return generateEd25519(id, label);
    const curve = spec.curve ?? "P-256";
    const pair = session.generateKeyPair(
      graphene.KeyGenMechanism.EC,
      {
        keyType: graphene.KeyType.EC,
        token: true,
        paramsEC: Buffer.from(EC_PARAMS[curve], "hex"),
        verify: true,
        id,
        label,
      },
      { ...PRIVATE, keyType: graphene.KeyType.EC, sign: true, id, label },
    );
    return {
      publicKey: ecPublicParts(curve, pair.publicKey.getAttribute({ pointEC: null }).pointEC as Buffer),
      material: id,
    };
  }

  function generateEd25519(id: Buffer, label: string): ProtectedKey {
    const offered = new Set<number>();
    const mechanisms = session.slot.getMechanisms();
    for (let i = 0; i < mechanisms.length; i++) offered.add(mechanisms.items(i).type);
    if (!offered.has(CKM_EC_EDWARDS_KEY_PAIR_GEN) || !offered.has(CKM_EDDSA))
      throw new DomainError(
        "BadParameter",
        "The HSM token does not offer Ed25519 (PKCS#11 v3.0 CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA); choose an EC or RSA key, or software protection",
        { reason: "AlgorithmNotSupportedByHsm" },
      );
    const pair = session.generateKeyPair(
      CKM_EC_EDWARDS_KEY_PAIR_GEN,
      { keyType: CKK_EC_EDWARDS, token: true, paramsEC: ED25519_PARAMS, verify: true, id, label },
      { ...PRIVATE, keyType: CKK_EC_EDWARDS, sign: true, id, label },
    );
    return {
      publicKey: ed25519PublicParts(pair.publicKey.getAttribute({ pointEC: null }).pointEC as Buffer),
      material: id,
    };
  }

  function importJwk(jwk: ImportJwk, id: Buffer): ProtectedKey {
    const label = `strongroom-${id.toString("hex")}`;
    if (jwk.kty.startsWith("oct")) {
      if (!jwk.k) throw badParameter('The oct JWK needs "k"');
      const value = Buffer.from(jwk.k, "base64url");
      if (![16, 24, 32].includes(value.length)) throw badParameter("oct keys must be 128, 192 or 256 bits");
      session.create({
        ...PRIVATE,
        class: graphene.ObjectClass.SECRET_KEY,
        keyType: graphene.KeyType.AES,
        value,
        encrypt: true,
        decrypt: true,
        wrap: true,
        unwrap: true,
        id,
        label,
      });
      value.fill(0);
      return { publicKey: {}, keySize: value.length * 8, material: id };
    }
    // Parse through node:crypto first: it validates the key and gives every CRT member.
    const key = privateKeyFromJwk(jwk);
    const full = key.export({ format: "jwk" });
    const b = (member: string) => Buffer.from(String(full[member as keyof typeof full]), "base64url");
    const parts = publicParts(key);
    if (full.kty === "RSA") {
      storePublicHalf(id, label, { modulus: b("n"), publicExponent: b("e") });
      session.create({
        ...PRIVATE,
        class: graphene.ObjectClass.PRIVATE_KEY,
        keyType: graphene.KeyType.RSA,
        modulus: b("n"),
        publicExponent: b("e"),
        privateExponent: b("d"),
        prime1: b("p"),
        prime2: b("q"),
        exp1: b("dp"),
        exp2: b("dq"),
        coefficient: b("qi"),
        sign: true,
        decrypt: true,
        unwrap: true,
        id,
        label,
      });
      return { publicKey: parts, keySize: b("n").length * 8, material: id };
    }
    const curve = parts.crv as CurveName;
    const paramsEC = Buffer.from(EC_PARAMS[curve], "hex");
    storePublicHalf(id, label, {
      paramsEC,
      pointEC: ecPointDer(Buffer.concat([Buffer.of(4), b("x"), b("y")])),
    });
    session.create({
      ...PRIVATE,
      class: graphene.ObjectClass.PRIVATE_KEY,
      keyType: graphene.KeyType.EC,
      paramsEC,
      value: b("d"),
      sign: true,
      id,
      label,
    });
    return { publicKey: parts, material: id };
  }

  function aesMechanism(mode: string, iv: Buffer | undefined, aad: Buffer | undefined): graphene.IAlgorithm {
    if (mode === "gcm") {
      return { name: "AES_GCM", params: new graphene.AesGcmParams(iv ?? randomBytes(12), aad, 128) };
    }
    if (iv?.length !== 16) throw badParameter("AES-CBC needs a 16-byte iv");
    return {
      name: mode === "cbcpad" ? "AES_CBC_PAD" : "AES_CBC",
      params: new graphene.AesCbcParams(iv as Buffer),
    };
  }

  // A token that lacks a mechanism says so with these codes; anything else is about the data.
  const cipherFailed = (cause: unknown, alg: string) =>
    /CKR_(MECHANISM_INVALID|MECHANISM_PARAM_INVALID|ARGUMENTS_BAD)/.test(String(cause))
      ? new DomainError(
          "BadParameter",
          `The HSM does not support ${alg} with this key; choose another algorithm`,
          {
            cause,
            reason: "AlgorithmNotSupportedByHsm",
          },
        )
      : new DomainError(
          "BadParameter",
          "The data could not be processed with this key and algorithm (wrong length, iv, tag or key)",
          { cause },
        );

  return {
    protection: "hsm",
    platform: `${token.manufacturerID.trim()} ${token.model.trim()}`,

    async generate(spec, _context, id) {
      return generate(spec, id ?? randomBytes(16));
    },

    async importJwk(jwk) {
      const id = randomBytes(16);
      try {
        return importJwk(jwk, id);
      } catch (error) {
        // The public half may be in the token already; without a row nothing would ever remove it.
        session.destroy({ id });
        throw error;
      }
    },

    async sign(material, _context, alg, digest) {
      const spec = SIGNATURE_ALGORITHMS[alg];
      const key = find(material, graphene.ObjectClass.PRIVATE_KEY);
      if (spec.family === "ecdsa")
        return run<Buffer>((cb) => session.createSign("ECDSA", key).once(digest, cb));
      if (spec.family === "pss") {
        const [hash, mgf] = mechHash(spec.hash);
        const mechanism = {
          name: "RSA_PKCS_PSS",
          params: new graphene.RsaPssParams(hash, mgf, spec.digestBytes),
        };
        return run<Buffer>((cb) => session.createSign(mechanism, key).once(digest, cb));
      }
      const encoded = Buffer.concat([DIGEST_INFO[spec.hash] as Buffer, digest]);
      return run<Buffer>((cb) => session.createSign("RSA_PKCS", key).once(encoded, cb));
    },

    async signMessage(material, _context, message) {
      const key = find(material, graphene.ObjectClass.PRIVATE_KEY);
      return run<Buffer>((cb) => session.createSign(CKM_EDDSA, key).once(message, cb));
    },

    async encrypt(material, _context, alg, input): Promise<CipherOutput> {
      const spec = ENCRYPTION_ALGORITHMS[alg];
      const key = privateOf(material);
      try {
        if (spec.mode === "kw") return { data: wrapBytes(key, input.data) };
        const iv = spec.mode === "gcm" ? (input.iv ?? randomBytes(12)) : input.iv;
        const out = session
          .createCipher(aesMechanism(spec.mode, iv, input.aad), key)
          .once(input.data, Buffer.alloc(input.data.length + 32));
        if (spec.mode === "gcm") {
          return {
            data: out.subarray(0, out.length - 16),
            tag: out.subarray(out.length - 16),
            iv,
            aad: input.aad,
          };
        }
        return { data: Buffer.from(out), iv };
      } catch (error) {
        throw cipherFailed(error, alg);
      }
    },

    async decrypt(material, _context, alg, input) {
      const spec = ENCRYPTION_ALGORITHMS[alg];
      const key = privateOf(material);
      try {
        if (spec.mode === "rsa1_5" || spec.mode === "oaep") {
          const mechanism =
            spec.mode === "rsa1_5"
              ? "RSA_PKCS"
              : {
                  name: "RSA_PKCS_OAEP",
                  params: new graphene.RsaOaepParams(...mechHash(spec.oaepHash ?? "sha1")),
                };
          const out = await run<Buffer>((cb) =>
            session.createDecipher(mechanism, key).once(input.data, Buffer.alloc(input.data.length), cb),
          );
          return Buffer.from(out);
        }
        if (spec.mode === "kw") return unwrapBytes(key, input.data);
        const data =
          spec.mode === "gcm" ? Buffer.concat([input.data, input.tag ?? Buffer.alloc(0)]) : input.data;
        if (spec.mode === "gcm" && (!input.iv || !input.tag))
          throw badParameter("AES-GCM decryption needs iv and tag");
        return Buffer.from(
          session
            .createDecipher(aesMechanism(spec.mode, input.iv, input.aad), key)
            .once(data, Buffer.alloc(data.length + 16)),
        );
      } catch (error) {
        if (error instanceof DomainError) throw error;
        throw cipherFailed(error, alg);
      }
    },

    async importWrapped(kekMaterial, transfer, kind) {
      if (kind !== "RSA" && kind !== "EC")
        throw badParameter("Bring-your-own-key transfers are supported for RSA and EC keys");
      const kek = find(kekMaterial, graphene.ObjectClass.PRIVATE_KEY);
      const kekBytes = (kek.getAttribute({ modulus: null }).modulus as Buffer).length;
      if (transfer.length <= kekBytes)
        throw badParameter("The transfer blob is shorter than its wrapped AES key");
      const id = randomBytes(16);
      const label = `strongroom-${id.toString("hex")}`;
      let transport: graphene.Key | undefined;
      try {
        transport = session.unwrapKey(
          { name: "RSA_PKCS_OAEP", params: new graphene.RsaOaepParams(...mechHash("sha1")) },
          kek,
          transfer.subarray(0, kekBytes),
          {
            class: graphene.ObjectClass.SECRET_KEY,
            keyType: graphene.KeyType.AES,
            token: false,
            unwrap: true,
            sensitive: true,
            extractable: false,
          },
        );
        const target = session.unwrapKey(
          "AES_KEY_WRAP_PAD",
          transport,
          transfer.subarray(kekBytes),
          kind === "RSA"
            ? {
                ...PRIVATE,
                class: graphene.ObjectClass.PRIVATE_KEY,
                keyType: graphene.KeyType.RSA,
                sign: true,
                decrypt: true,
                unwrap: true,
                id,
                label,
              }
            : // derive only until ecPublicOfUnwrapped has read the public point.
              {
                ...PRIVATE,
                class: graphene.ObjectClass.PRIVATE_KEY,
                keyType: graphene.KeyType.EC,
                sign: true,
                derive: true,
                id,
                label,
              },
        );
        if (kind === "EC") {
          const { paramsEC, pointEC, publicKey } = ecPublicOfUnwrapped(target);
          target.setAttribute({ derive: false });
          storePublicHalf(id, label, { paramsEC, pointEC });
          return { publicKey, material: id };
        }
        const attrs = target.getAttribute({ modulus: null, publicExponent: null });
        const modulus = attrs.modulus as Buffer;
        const publicExponent = attrs.publicExponent as Buffer;
        storePublicHalf(id, label, { modulus, publicExponent });
        const publicKey = {
          n: stripZeros(modulus).toString("base64url"),
          e: stripZeros(publicExponent).toString("base64url"),
        };
        return { publicKey, keySize: modulus.length * 8, material: id };
      } catch (error) {
        session.destroy({ id });
        if (error instanceof DomainError) throw error;
        throw new DomainError(
          "BadParameter",
          "The transfer blob could not be unwrapped: it was not made for this key-exchange key, or it is corrupt",
          { cause: error },
        );
      } finally {
        transport?.destroy();
      }
    },

    async exportForBackup() {
      throw badParameter(
        "Keys in the HSM never leave it, so they cannot be backed up through the API; back up the HSM token with its own tools",
      );
    },

    async importFromBackup() {
      throw badParameter("A backup of an HSM key cannot exist: HSM keys never leave the token");
    },

    async destroy(material) {
      session.destroy({ id: material });
    },

    close() {
      session.logout();
      session.close();
      mod.finalize();
    },
  };

  /**
   * The public point of an EC private key the token unwrapped. A private key object has no
   * CKA_EC_POINT (and SoftHSM2 leaves CKA_PUBLIC_KEY_INFO empty), so ECDH with the curve's
   * generator G gives the x-coordinate of d·G, and one signature tells which of the two points with
   * that x is the key's.
   */
  function ecPublicOfUnwrapped(key: graphene.Key) {
    const paramsEC = key.getAttribute("paramsECDSA") as Buffer;
    const curve = (Object.keys(EC_PARAMS) as CurveName[]).find(
      (c) => EC_PARAMS[c] === paramsEC.toString("hex"),
    );
    if (!curve) throw badParameter("The transferred EC key is on a curve Key Vault does not offer");
    const opensslCurve = OPENSSL_CURVE[curve];
    const generator = createECDH(opensslCurve);
    generator.setPrivateKey(Buffer.of(1));
    const shared = session.deriveKey(
      {
        name: "ECDH1_DERIVE",
        params: new graphene.EcdhParams(graphene.EcKdf.NULL, null, generator.getPublicKey()),
      },
      key,
      {
        class: graphene.ObjectClass.SECRET_KEY,
        keyType: graphene.KeyType.GENERIC_SECRET,
        token: false,
        sensitive: false,
        extractable: true,
        valueLen: CURVE_BYTES[curve],
      },
    );
    let x: Buffer;
    try {
      x = Buffer.from(shared.getAttribute({ value: null }).value as Buffer);
    } finally {
      shared.destroy();
    }
    const digest = createHash("sha256").update(PROBE).digest();
    const signature = session.createSign("ECDSA", key).once(digest);
    for (const prefix of [2, 3]) {
      const point = ECDH.convertKey(
        Buffer.concat([Buffer.of(prefix), x]),
        opensslCurve,
        undefined,
        undefined,
        "uncompressed",
      ) as Buffer;
      const pointEC = ecPointDer(point);
      const publicKey = ecPublicParts(curve, pointEC);
      const verifier = { key: publicKeyFromParts(publicKey), dsaEncoding: "ieee-p1363" as const };
      if (verify("sha256", PROBE, verifier, signature)) return { paramsEC, pointEC, publicKey };
    }
    throw new Error("The HSM's signature matches neither public point of the unwrapped EC key");
  }

  // RFC 3394 key wrap of caller-supplied bytes: the bytes enter the token as a short-lived session
  // object, since PKCS#11 wraps keys, not data.
  function wrapBytes(kek: graphene.Key, bytes: Buffer): Buffer {
    if (bytes.length < 16 || bytes.length % 8 !== 0)
      throw badParameter("AES key wrap takes 16 or more bytes in multiples of 8");
    const temporary = session.create({
      class: graphene.ObjectClass.SECRET_KEY,
      keyType: graphene.KeyType.GENERIC_SECRET,
      token: false,
      value: bytes,
      extractable: true,
      sensitive: false,
    });
    try {
      return session.wrapKey("AES_KEY_WRAP", kek, temporary.toType<graphene.Key>());
    } finally {
      temporary.destroy();
    }
  }

  function unwrapBytes(kek: graphene.Key, wrapped: Buffer): Buffer {
    const key = session.unwrapKey("AES_KEY_WRAP", kek, wrapped, {
      class: graphene.ObjectClass.SECRET_KEY,
      keyType: graphene.KeyType.GENERIC_SECRET,
      token: false,
      extractable: true,
      sensitive: false,
    });
    try {
      return Buffer.from(key.getAttribute({ value: null }).value as Buffer);
    } finally {
      key.destroy();
    }
  }
}
