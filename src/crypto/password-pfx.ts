import { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2";
const CERT_BAG = "1.2.840.113549.1.12.10.1.3";
const X509_CERTIFICATE = "1.2.840.113549.1.9.22.1";
const FRIENDLY_NAME = "1.2.840.113549.1.9.20";
const LOCAL_KEY_ID = "1.2.840.113549.1.9.21";
/** OpenSSL 3's default work factor for both the key's PBKDF2 and the MAC. */
const ITERATIONS = 2048;

const bytes = (b: Uint8Array) => new Uint8Array(b).buffer;

/**
 * A PKCS#12 file locked with `password`, as `openssl pkcs12 -export` (3.x) and Java's keytool
 * write one: the key in a PKCS#8 shrouded bag (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), the
 * certificates in the clear, the leaf and key sharing a friendly name (`alias`) and local key id,
 * and a SHA-256 MAC under the password. Built with pkijs, which draws every salt and IV itself.
 */
export async function passwordPfx(
  pkcs8: Uint8Array,
  certificates: readonly Uint8Array[],
  password: string,
  alias: string,
): Promise<Buffer> {
  pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto }));
  const secret = bytes(Buffer.from(password, "utf8"));
  const keyId = new Uint8Array(await webcrypto.subtle.digest("SHA-1", bytes(certificates[0] as Uint8Array)));
  const attributes = () => [
    new pkijs.Attribute({ type: FRIENDLY_NAME, values: [new asn1js.BmpString({ value: alias })] }),
    new pkijs.Attribute({ type: LOCAL_KEY_ID, values: [new asn1js.OctetString({ valueHex: bytes(keyId) })] }),
  ];
  const shrouded = new pkijs.PKCS8ShroudedKeyBag({ parsedValue: pkijs.PrivateKeyInfo.fromBER(bytes(pkcs8)) });
  await shrouded.makeInternalValues({
    password: secret,
    contentEncryptionAlgorithm: { name: "AES-CBC", length: 256 } as pkijs.ContentEncryptionAesCbcParams,
    hmacHashAlgorithm: "SHA-256",
    iterationCount: ITERATIONS,
  });
  const keyBag = new pkijs.SafeBag({
    bagId: SHROUDED_KEY_BAG,
    bagValue: shrouded,
    bagAttributes: attributes(),
  });
  const certBags = certificates.map(
    (der, i) =>
      new pkijs.SafeBag({
        bagId: CERT_BAG,
        bagValue: new pkijs.CertBag({
          certId: X509_CERTIFICATE,
          certValue: new asn1js.OctetString({ valueHex: bytes(der) }),
        }),
        ...(i === 0 && { bagAttributes: attributes() }),
      }),
  );
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
    password: secret,
    iterations: ITERATIONS,
    pbkdf2HashAlgorithm: "SHA-256",
    hmacHashAlgorithm: "SHA-256",
  });
  return Buffer.from(pfx.toSchema().toBER(false));
}
