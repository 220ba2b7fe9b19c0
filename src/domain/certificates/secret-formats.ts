import { badParameter } from "../errors.js";
import type { SecretVersion } from "../secrets/model.js";
import type { SecretService } from "../secrets/secret-service.js";
import type { Vault } from "../vaults/model.js";
import type { CertificateContentType } from "./model.js";
import type { CertificateBundleCodec } from "./ports.js";

export interface SecretFormatsDeps {
  secrets: Pick<SecretService, "get">;
  codec: Pick<CertificateBundleCodec, "parsePfx" | "parsePem" | "buildPfx" | "buildPem">;
}

export type SecretFormats = ReturnType<typeof createSecretFormats>;

const PFX: CertificateContentType = "application/x-pkcs12";
const PEM: CertificateContentType = "application/x-pem-file";

/**
 * Secret reads with Key Vault's `outContentType`: the secret that backs a certificate, converted to
 * the format asked for. Key Vault documents PFX to PEM ("if an unsupported format is specified, the
 * request is rejected"); PEM to PFX is converted too, since it loses nothing. What the secret holds
 * is what is converted, so a non-exportable certificate's secret yields certificates only, in
 * either format.
 */
export function createSecretFormats({ secrets, codec }: SecretFormatsDeps) {
  return {
    /** The secret and its value, in `outContentType` when one is asked for. */
    async get(
      vault: Vault,
      name: string,
      version: string | undefined,
      outContentType: string | undefined,
    ): Promise<{ secret: SecretVersion; value: string }> {
      const found = await secrets.get(vault, name, version);
      if (outContentType === undefined || outContentType === "") return found;
      if (outContentType !== PFX && outContentType !== PEM) {
        throw badParameter(`outContentType must be ${PEM} or ${PFX}, not "${outContentType}"`);
      }
      const { secret, value } = found;
      if (!secret.managed || (secret.contentType !== PFX && secret.contentType !== PEM)) {
        throw badParameter(
          `outContentType converts only the secret of a certificate; secret ${secret.name} is not one`,
        );
      }
      if (secret.contentType === outContentType) return found;
      const bundle =
        secret.contentType === PEM ? codec.parsePem(value) : codec.parsePfx(Buffer.from(value, "base64"), "");
      try {
        const converted =
          outContentType === PEM
            ? codec.buildPem(bundle.pkcs8, bundle.certificates)
            : (await codec.buildPfx(bundle.pkcs8, bundle.certificates)).toString("base64");
        return { secret: { ...secret, contentType: outContentType }, value: converted };
      } finally {
        bundle.pkcs8?.fill(0);
      }
    },

    /**
     * A certificate version as a file: its certificate and chain, with the private key only when
     * asked for. The key comes from the certificate's secret, which holds one only while the policy
     * keeps the key exportable, so a non-exportable key is refused instead of silently left out.
     */
    async certificateFile(
      vault: Vault,
      name: string,
      version: string | undefined,
      format: "pem" | "pfx",
      withKey: boolean,
    ): Promise<Buffer> {
      const { secret, value } = await secrets.get(vault, name, version);
      if (!secret.managed) throw badParameter(`Secret ${name} does not back a certificate`);
      const bundle =
        secret.contentType === PEM ? codec.parsePem(value) : codec.parsePfx(Buffer.from(value, "base64"), "");
      try {
        if (withKey && !bundle.pkcs8)
          throw badParameter(
            `The key of certificate ${name} is not exportable (its policy says exportable: false); download it without the key`,
          );
        const pkcs8 = withKey ? bundle.pkcs8 : undefined;
        return format === "pem"
          ? Buffer.from(codec.buildPem(pkcs8, bundle.certificates), "utf8")
          : await codec.buildPfx(pkcs8, bundle.certificates);
      } finally {
        bundle.pkcs8?.fill(0);
      }
    },
  };
}
