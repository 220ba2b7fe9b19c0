import type { CaKeyAlgorithm } from "../domain/ca/model.js";
import type { CaKeys } from "../domain/ca/ports.js";
import { badParameter } from "../domain/errors.js";
import type { KeyProtector } from "../domain/keys/ports.js";

const SPECS = {
  "EC-P256": { kind: "EC", curve: "P-256" },
  "EC-P384": { kind: "EC", curve: "P-384" },
  "RSA-2048": { kind: "RSA", keySize: 2048 },
  "RSA-3072": { kind: "RSA", keySize: 3072 },
  "RSA-4096": { kind: "RSA", keySize: 4096 },
  Ed25519: { kind: "OKP", curve: "Ed25519" },
} as const satisfies Record<CaKeyAlgorithm, object>;

/** CA keys in the same protectors as vault keys: sealed under the master key, or inside the HSM. */
export function createCaKeys(protectors: { software: KeyProtector; hsm?: KeyProtector | undefined }): CaKeys {
  function protector(protection: "software" | "hsm"): KeyProtector {
    if (protection === "software") return protectors.software;
    if (!protectors.hsm)
      throw badParameter(
        "This installation has no HSM configured (pkcs11 settings); HSM CA keys are unavailable",
      );
    return protectors.hsm;
  }
  return {
    generate: (algorithm, protection, context) =>
      protector(protection).generate({ ...SPECS[algorithm], protection }, context),
    signer: (protection, material, context, publicKey) => ({
      publicKey,
      sign: (alg, digest) => protector(protection).sign(material, context, alg, digest),
      signMessage: (message) => protector(protection).signMessage(material, context, message),
    }),
    destroy: (protection, material) => protector(protection).destroy(material),
  };
}
