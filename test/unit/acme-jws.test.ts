import { describe, expect, it } from "vitest";
import { createAcmeJws } from "../../src/crypto/acme-jws.js";
import { type AccountKey, accountKey, createAcmeClient } from "../support/acme-client.js";

const jws = createAcmeJws();
// Only the client's signing is used: it makes no request.
const client = createAcmeClient({ directoryUrl: "https://127.0.0.1:1/unused" });

async function signed(key: AccountKey, payload: unknown, header: Record<string, unknown> = {}) {
  return jws.parse(await client.sign(key, { nonce: "n", url: "https://x/y", ...header }, payload));
}

describe("ACME JWS verification", () => {
  it.each(["ES256", "ES384", "RS256", "EdDSA"] as const)("accepts a %s signature by the key", async (alg) => {
    const key = await accountKey(alg);
    expect(await jws.verify(await signed(key, { a: 1 }), key.jwk)).toBe(true);
  });

  it("refuses a payload changed after signing", async () => {
    const key = await accountKey("ES256");
    const parsed = await signed(key, { a: 1 });
    parsed.raw.payload = Buffer.from('{"a":2}').toString("base64url");
    expect(await jws.verify(parsed, key.jwk)).toBe(false);
  });

  it("refuses a signature by another key and an algorithm the key was not made for", async () => {
    const [ec, other, rsa] = await Promise.all([
      accountKey("ES256"),
      accountKey("ES256"),
      accountKey("RS256"),
    ]);
    expect(await jws.verify(await signed(other, {}), ec.jwk)).toBe(false);
    const claimed = await signed(rsa, {});
    claimed.header.alg = "ES256";
    expect(await jws.verify(claimed, rsa.jwk)).toBe(false);
    const p384 = await accountKey("ES384");
    const mislabelled = await signed(p384, {});
    mislabelled.header.alg = "ES256";
    expect(await jws.verify(mislabelled, p384.jwk)).toBe(false);
  });

  it("refuses a private key as the account key and a body that is not a flattened JWS", async () => {
    const key = await accountKey("ES256");
    const { exportJWK } = await import("jose");
    const privateJwk = await exportJWK(key.privateKey);
    await expect(jws.thumbprint(privateJwk).then(() => jws.spki(privateJwk))).rejects.toThrow(/private key/);
    expect(() => jws.parse({ protected: "e30", payload: "" })).toThrow(/flattened JWS/);
    expect(() => jws.parse({ protected: "!!", payload: "", signature: "" })).toThrow(/flattened JWS/);
  });
});
