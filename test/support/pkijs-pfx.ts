import { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const KEY_BAG = "1.2.840.113549.1.12.10.1.1";
const SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2";
const CERT_BAG = "1.2.840.113549.1.12.10.1.3";
const X509_CERTIFICATE = "1.2.840.113549.1.9.22.1";

/**
 * A PFX as pkijs writes it: the key in one SafeContents, the certificates in another, a SHA-256 MAC
 * under `password`. With `shroudKey` the key bag is a PKCS#8 ShroudedKeyBag (PBES2, AES-256-CBC), as
 * pkijs's own PKCS#12 example makes; without, a plain KeyBag, as Strongroom's PFX assembler writes.
 * Returns the salt pkijs drew for the MAC, so a byte-for-byte comparison can reuse it.
 */
export async function pkijsPfx(
  pkcs8: Buffer,
  certificates: Buffer[],
  options: { password?: string; shroudKey?: boolean } = {},
): Promise<{ pfx: Buffer; salt: Buffer }> {
  pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto }));
  const password = new Uint8Array(Buffer.from(options.password ?? "", "utf8")).buffer;
  const certBags = certificates.map(
    (der) =>
      new pkijs.SafeBag({
        bagId: CERT_BAG,
        bagValue: new pkijs.CertBag({
          certId: X509_CERTIFICATE,
          certValue: new asn1js.OctetString({ valueHex: new Uint8Array(der).buffer }),
        }),
      }),
  );
  const keyInfo = pkijs.PrivateKeyInfo.fromBER(new Uint8Array(pkcs8).buffer);
  let keyBag: pkijs.SafeBag;
  if (options.shroudKey) {
    const shrouded = new pkijs.PKCS8ShroudedKeyBag({ parsedValue: keyInfo });
    await shrouded.makeInternalValues({
      password,
      // pkijs draws the IV itself.
      contentEncryptionAlgorithm: { name: "AES-CBC", length: 256 } as pkijs.ContentEncryptionAesCbcParams,
      hmacHashAlgorithm: "SHA-256",
      iterationCount: 2048,
    });
    keyBag = new pkijs.SafeBag({ bagId: SHROUDED_KEY_BAG, bagValue: shrouded });
  } else {
    keyBag = new pkijs.SafeBag({ bagId: KEY_BAG, bagValue: keyInfo });
  }
  const contents = [
    new pkijs.SafeContents({ safeBags: [keyBag] }),
    new pkijs.SafeContents({ safeBags: certBags }),
  ];
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    parsedValue: { safeContents: contents.map((value) => ({ privacyMode: 0, value })) },
  });
  await authenticatedSafe.makeInternalValues({ safeContents: contents.map(() => ({})) });
  const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
  await pfx.makeInternalValues({
    password,
    iterations: 1,
    pbkdf2HashAlgorithm: "SHA-256",
    hmacHashAlgorithm: "SHA-256",
  });
  const salt = Buffer.from((pfx.macData as pkijs.MacData).macSalt.valueBlock.valueHexView);
  return { pfx: Buffer.from(pfx.toSchema().toBER(false)), salt };
}
