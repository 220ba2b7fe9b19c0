import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/domain/inventory/inventory-service.js";
import { factTerms, keyTypeLabel, ownerFromTags, words } from "../../src/domain/inventory/terms.js";

const facts = {
  fingerprintSha256: "00",
  subject: "CN=www.example.com, O=Example\\, Inc., C=DE",
  issuer: "CN=R11, O=Let's Encrypt, C=US",
  serialNumber: "01",
  notBefore: new Date(0),
  notAfter: new Date(1),
  keyType: "EC",
  keySize: 256,
  curve: "P-256",
  signatureAlgorithm: "ecdsa-with-SHA256",
  sans: [
    { type: "dns" as const, value: "a.b.Example.com" },
    { type: "dns" as const, value: "*.shop.example.com" },
    { type: "ip" as const, value: "10.0.0.5" },
  ],
  selfSigned: false,
  isCa: false,
};

describe("inventory terms", () => {
  it("take the words of a name's values, not its attribute names", () => {
    expect(words(facts.subject)).toEqual(["www", "example", "com", "inc", "de"]);
    expect(words("CN=Zürich Root 2, 2.5.4.97=VATDE-123")).toEqual(["zürich", "root", "2", "vatde", "123"]);
  });

  it("index each DNS name under its parent domains of two labels or more, and other SANs as they are", () => {
    const terms = factTerms(facts);
    for (const t of [
      "n:a.b.example.com",
      "n:b.example.com",
      "n:example.com",
      "n:*.shop.example.com",
      "n:shop.example.com",
      "n:10.0.0.5",
    ])
      expect(terms).toContain(t);
    expect(terms).not.toContain("n:com");
    expect(terms).toEqual(
      expect.arrayContaining(["k:ec", "a:ecdsa-with-sha256", "i:let", "i:encrypt", "s:www"]),
    );
  });

  it("derive an owner from tags in any case, an e-mail owner being the contact", () => {
    expect(ownerFromTags({ Team: "payments", App: "checkout" })).toEqual({
      team: "payments",
      application: "checkout",
      contact: undefined,
    });
    expect(ownerFromTags({ owner: "ops@example.com" })).toEqual({
      team: undefined,
      application: undefined,
      contact: "ops@example.com",
    });
    expect(ownerFromTags({ owner: "platform", team: "edge" })?.team).toBe("edge");
    expect(ownerFromTags({ env: "prod" })).toBeUndefined();
  });

  it("label key types with their size or curve", () => {
    expect(keyTypeLabel(facts)).toBe("EC P-256");
    expect(keyTypeLabel({ keyType: "RSA", keySize: 2048 })).toBe("RSA 2048");
    expect(keyTypeLabel({ keyType: "Ed25519", keySize: 256 })).toBe("Ed25519");
  });

  it("read durations in seconds to weeks, plain numbers as days, and refuse anything else", () => {
    expect(parseDuration("30d")).toBe(30 * 86_400_000);
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("2w")).toBe(14 * 86_400_000);
    expect(parseDuration("7")).toBe(7 * 86_400_000);
    for (const bad of ["soon", "-1d", "1y", ""]) expect(() => parseDuration(bad)).toThrow(/duration/);
  });
});
