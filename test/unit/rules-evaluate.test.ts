import { describe, expect, it } from "vitest";
import type { CertificateFacts } from "../../src/domain/inventory/model.js";
import { builtInFindings, type GradingContext, trustSet } from "../../src/domain/rules/built-in-findings.js";
import { applicableRules, evaluate, hashOf, nameAttributes } from "../../src/domain/rules/evaluate.js";
import type { CertificateRequestFacts } from "../../src/domain/rules/issuance-gate.js";
import type { Rule, RuleKind, RuleValues } from "../../src/domain/rules/model.js";
import type { GradableRecord } from "../../src/domain/rules/ports.js";

const at = new Date("2026-12-01T00:00:00Z");
let next = 0;
function rule<K extends RuleKind>(kind: K, value: RuleValues[K], more: Partial<Rule> = {}): Rule {
  return {
    id: `r${++next}`,
    level: "installation",
    target: "",
    targetName: "installation",
    kind,
    value,
    locked: false,
    createdAt: at,
    updatedAt: at,
    ...more,
  } as Rule;
}

const request: CertificateRequestFacts = {
  subject: "CN=www.example.com, O=Contoso\\, Ltd",
  sans: [{ type: "dns", value: "www.example.com" }],
  keyType: "RSA",
  keySize: 2048,
  validityDays: 90,
  ekus: ["1.3.6.1.5.5.7.3.1"],
};

describe("evaluate", () => {
  it("reads escaped commas in names and hashes in every spelling of a signature algorithm", () => {
    expect(nameAttributes("CN=a\\, b, O=c")).toEqual(["CN", "O"]);
    expect(
      ["sha1WithRSAEncryption", "ecdsa-with-SHA384", "SHA-256", "md5WithRSAEncryption", "Ed25519"].map(
        hashOf,
      ),
    ).toEqual(["SHA-1", "SHA-384", "SHA-256", "MD5", undefined]);
  });

  it("matches DNS suffixes at label boundaries and globs within one label", () => {
    const suffix = [rule("dns-names", ["example.com"])];
    expect(evaluate(suffix, request)).toEqual([]);
    expect(evaluate(suffix, { ...request, sans: [{ type: "dns", value: "badexample.com" }] })).toHaveLength(
      1,
    );
    const glob = [rule("dns-names", ["*.example.com"])];
    expect(evaluate(glob, request)).toEqual([]);
    expect(evaluate(glob, { ...request, sans: [{ type: "dns", value: "a.b.example.com" }] })).toHaveLength(1);
  });

  it("compares DNS names without regard to case or a trailing dot", () => {
    const suffix = [rule("dns-names", ["Example.COM."])];
    expect(evaluate(suffix, { ...request, sans: [{ type: "dns", value: "WWW.Example.com." }] })).toEqual([]);
    expect(evaluate(suffix, { ...request, sans: [{ type: "dns", value: "WWW.Example.net" }] })).toHaveLength(
      1,
    );
    expect(evaluate([rule("key-types", ["ec"])], { ...request, keyType: "EC" })).toEqual([]);
  });

  it("skips a rule whose fact the request does not carry, and one limited to other entry points", () => {
    expect(evaluate([rule("min-signature-hash", "SHA-384")], request, "keyvault-create")).toEqual([]);
    expect(evaluate([rule("auto-renew", 30)], request)).toEqual([]);
    expect(
      evaluate([rule("key-types", ["EC"], { entries: ["ca-sign"] })], request, "keyvault-create"),
    ).toEqual([]);
    expect(evaluate([rule("key-types", ["EC"], { entries: ["ca-sign"] })], request, "ca-sign")).toHaveLength(
      1,
    );
  });

  it("lets a vault replace an unlocked installation rule and only add to a locked one", () => {
    const top = rule("max-validity-days", 100);
    const lockedTop = rule("curves", ["P-256"], { locked: true });
    const mine = rule("max-validity-days", 400, { level: "vault", target: "v1" });
    const mineCurves = rule("curves", ["P-384"], { level: "vault", target: "v1" });
    const other = rule("max-validity-days", 10, { level: "vault", target: "v2" });
    const all = [top, lockedTop, mine, mineCurves, other];
    expect(applicableRules(all, { vaultId: "v1" }).map((r) => r.id)).toEqual([
      lockedTop.id,
      mine.id,
      mineCurves.id,
    ]);
    expect(applicableRules(all, {}).map((r) => r.id)).toEqual([top.id, lockedTop.id]);
  });
});

const facts = (f: Partial<CertificateFacts>): CertificateFacts => ({
  fingerprintSha256: "aa".repeat(32),
  subject: "CN=www.example.com",
  issuer: "CN=Issuing",
  serialNumber: "01",
  notBefore: new Date(at.getTime() - 86_400_000),
  notAfter: new Date(at.getTime() + 86_400_000),
  keyType: "EC",
  keySize: 256,
  curve: "P-256",
  signatureAlgorithm: "ecdsa-with-SHA256",
  sans: [{ type: "dns", value: "*.example.com" }],
  selfSigned: false,
  isCa: false,
  authorityKeyId: "01",
  ...f,
});

describe("built-in findings", () => {
  const anchor = facts({
    fingerprintSha256: "bb".repeat(32),
    subject: "CN=Issuing",
    subjectKeyId: "01",
    isCa: true,
  });
  const ctx: GradingContext = {
    trust: trustSet([anchor]),
    issuer: () => undefined,
    revoked: new Set(),
    now: at,
  };
  const record = (f: Partial<CertificateFacts>, uris: string[] = []): GradableRecord => ({
    id: 1,
    facts: facts(f),
    locations: uris.map((uri) => ({ uri, gone: false, presented: "" })),
  });

  it("finds nothing wrong with a good certificate served under its wildcard name", () => {
    expect(
      builtInFindings(record({}, ["tls://10.0.0.1:443?sni=www.example.com", "tls://[::1]:443"]), ctx),
    ).toEqual([]);
  });

  it("flags a name a wildcard does not cover, but not an address reached without SNI", () => {
    const found = builtInFindings(record({}, ["tls://a.b.example.com:443", "tls://10.0.0.1:443"]), ctx);
    expect(found.map((f) => [f.kind, f.locationUri])).toEqual([
      ["hostname-mismatch", "tls://a.b.example.com:443"],
    ]);
  });

  it("does not weigh a root's own SHA-1 signature, only an issued certificate's", () => {
    expect(
      builtInFindings(
        record({
          signatureAlgorithm: "sha1WithRSAEncryption",
          selfSigned: true,
          fingerprintSha256: anchor.fingerprintSha256,
        }),
        ctx,
      ),
    ).toEqual([]);
    expect(
      builtInFindings(record({ signatureAlgorithm: "sha1WithRSAEncryption" }), ctx).map((f) => f.kind),
    ).toEqual(["weak-algorithm"]);
  });

  it("reads the SNI wherever it stands in the query, and compares it without regard to case", () => {
    const served = (uri: string) => builtInFindings(record({}, [uri]), ctx).map((f) => f.kind);
    expect(served("tls://10.0.0.1:443?x=1&sni=WWW.Example.com.")).toEqual([]);
    expect(served("tls://10.0.0.1:443?xsni=a.b.example.com&sni=www.example.com")).toEqual([]);
    expect(served("tls://10.0.0.1:443?sni=&x=1")).toEqual([]);
    expect(served("tls://10.0.0.1:443?x=1&sni=a.b.example.com")).toEqual(["hostname-mismatch"]);
  });

  it("finds a missing intermediate unless the chain presented names the issuer itself", () => {
    const intermediate = {
      id: 2,
      facts: facts({ fingerprintSha256: "cc".repeat(32), isCa: true, authorityKeyId: "01" }),
      locations: [],
    };
    const leaf = (presented: string): GradableRecord => ({
      id: 1,
      facts: facts({ authorityKeyId: "02" }),
      issuerId: 2,
      locations: [{ uri: "tls://www.example.com:443", gone: false, presented }],
    });
    const withIssuer = { ...ctx, issuer: (id: number) => (id === 2 ? intermediate : undefined) };
    const kinds = (presented: string) => builtInFindings(leaf(presented), withIssuer).map((f) => f.kind);
    expect(kinds(`${"dd".repeat(32)},${"cc".repeat(32)}`)).toEqual([]);
    // A list naming only a longer fingerprint that begins with the issuer's does not name the issuer.
    expect(kinds(`${"cc".repeat(32)}00`)).toEqual(["missing-intermediate"]);
    expect(kinds("")).toEqual(["missing-intermediate"]);
  });

  it("ignores places a certificate is kept rather than served, and gone places", () => {
    const expired = record({ notAfter: new Date(at.getTime() - 1) }, ["vault://default/certificates/a/1"]);
    expect(builtInFindings(expired, ctx)).toEqual([]);
    const gone = {
      ...record({ notAfter: new Date(at.getTime() - 1) }),
      locations: [{ uri: "tls://x.example.com:443", gone: true }],
    };
    expect(builtInFindings(gone, ctx)).toEqual([]);
  });
});
