import { createPrivateKey, webcrypto } from "node:crypto";
import { createRequire } from "node:module";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { CertificateBundleCodec, KeyAndCertificates } from "../domain/certificates/ports.js";
import { badParameter, DomainError } from "../domain/errors.js";

// node-forge assigns module.exports whole, so ESM sees no named exports; require it.
const forge = createRequire(import.meta.url)("node-forge") as typeof import("node-forge");

pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto }));

const KEY_BAG = "1.2.840.113549.1.12.10.1.1";
const CERT_BAG = "1.2.840.113549.1.12.10.1.3";
const X509_CERT = "1.2.840.113549.1.9.22.1";

const toArrayBuffer = (b: Buffer): ArrayBuffer => new Uint8Array(b).buffer;

/** Any private key node:crypto reads (PKCS#8, PKCS#1, SEC 1, encrypted or not) as PKCS#8 DER. */
function pkcs8FromPem(pem: string): Buffer {
  try {
    return createPrivateKey({ key: pem, format: "pem" }).export({ format: "der", type: "pkcs8" });
  } catch (cause) {
    throw new DomainError(
      "BadParameter",
      `The PEM private key could not be read: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * PKCS#12 and PEM. Reading uses node-forge, which knows every PBE that PKCS#12 files in the wild use
 * (PBES2 with AES, and the legacy 3DES and RC2 that `openssl pkcs12 -legacy` and older Windows
 * write). Writing uses pkijs, which takes keys of any type; the PFX has no encryption and an empty
 * password, like the ones Key Vault hands out.
 */
export function createCertificateBundleCodec(): CertificateBundleCodec {
  return {
    parsePfx(bytes, password) {
      let p12: import("node-forge").pkcs12.Pkcs12Pfx;
      try {
        const asn1 = forge.asn1.fromDer(forge.util.createBuffer(bytes.toString("binary")));
        p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password ?? "");
      } catch (cause) {
        const message = (cause as Error).message ?? "";
        if (/MAC could not be verified|Invalid password|decrypt/i.test(message)) {
          throw new DomainError("BadParameter", "The PFX password is wrong", {
            cause,
            reason: "WrongPassword",
          });
        }
        throw new DomainError("BadParameter", `The value is not a readable PKCS#12 file: ${message}`, {
          cause,
        });
      }
      const result: KeyAndCertificates = { certificates: [] };
      for (const safe of p12.safeContents) {
        for (const bag of safe.safeBags) {
          if (bag.type === forge.pki.oids.certBag) {
            const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
            if (asn1) result.certificates.push(Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary"));
          } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
            if (result.pkcs8) throw badParameter("The PFX holds more than one private key");
            // forge parses RSA keys itself and hands other types (EC) back as PrivateKeyInfo.
            const info = bag.key
              ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
              : bag.asn1;
            if (!info) throw badParameter("The PFX key bag could not be read");
            result.pkcs8 = Buffer.from(forge.asn1.toDer(info).getBytes(), "binary");
          }
        }
      }
      return result;
    },

    parsePem(text) {
      const certificates = [
        ...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g),
      ].map((m) => Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64"));
      const keys = [
        ...text.matchAll(/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g),
      ];
      if (keys.length > 1) throw badParameter("The PEM holds more than one private key");
      return { certificates, pkcs8: keys[0] ? pkcs8FromPem(keys[0][0]) : undefined };
    },

    async buildPfx(pkcs8, certificates) {
      const certBags = certificates.map(
        (der) =>
          new pkijs.SafeBag({
            bagId: CERT_BAG,
            bagValue: new pkijs.CertBag({
              certId: X509_CERT,
              certValue: new asn1js.OctetString({ valueHex: toArrayBuffer(der) }),
            }),
          }),
      );
      const safeContents = [new pkijs.SafeContents({ safeBags: certBags })];
      if (pkcs8) {
        const keyBag = new pkijs.SafeBag({
          bagId: KEY_BAG,
          bagValue: pkijs.PrivateKeyInfo.fromBER(toArrayBuffer(pkcs8)),
        });
        safeContents.unshift(new pkijs.SafeContents({ safeBags: [keyBag] }));
      }
      const authenticatedSafe = new pkijs.AuthenticatedSafe({
        parsedValue: { safeContents: safeContents.map((value) => ({ privacyMode: 0, value })) },
      });
      await authenticatedSafe.makeInternalValues({ safeContents: safeContents.map(() => ({})) });
      const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
      // The MAC of a password-less PFX protects nothing (anyone can recompute it), and pkijs derives
      // its key in JavaScript: one iteration, as `openssl pkcs12 -nomaciter` writes.
      await pfx.makeInternalValues({
        password: new ArrayBuffer(0),
        iterations: 1,
        pbkdf2HashAlgorithm: "SHA-256",
        hmacHashAlgorithm: "SHA-256",
      });
      return Buffer.from(pfx.toSchema().toBER(false));
    },

    pkcs8ToJwk(pkcs8) {
      const jwk = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "jwk" });
      const crv = jwk.crv === "secp256k1" ? "P-256K" : jwk.crv;
      return { ...(jwk as Record<string, string>), kty: String(jwk.kty), ...(crv !== undefined && { crv }) };
    },

    buildPem(pkcs8, certificates) {
      const block = (label: string, der: Buffer) =>
        `-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;
      return (
        (pkcs8 ? block("PRIVATE KEY", pkcs8) : "") + certificates.map((c) => block("CERTIFICATE", c)).join("")
      );
    },
  };
}
