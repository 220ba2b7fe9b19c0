import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpAllRows } from "../support/backends.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

x509.cryptoProvider.set(webcrypto as Crypto);

const V = "api-version=7.6";
const DAY = 86_400_000;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

/** What a request asks for; each entry point turns it into its own kind of request. */
interface Spec {
  kty: "RSA" | "EC";
  keySize?: number;
  curve?: "P-256" | "P-384";
  subject: string;
  dns: string[];
  ips: string[];
  validityDays: number;
  ekus: string[];
  exportable: boolean;
  autoRenewDays?: number;
}

/** Compliant with every rule below except the one each row sets. */
const BASE: Spec = {
  kty: "RSA",
  keySize: 2048,
  subject: "CN=app.example.com, O=Contoso",
  dns: ["app.example.com"],
  ips: [],
  validityDays: 365,
  ekus: [SERVER_AUTH],
  exportable: true,
  autoRenewDays: 30,
};

type Entry =
  | "keyvault-create"
  | "keyvault-policy-update"
  | "keyvault-import"
  | "keyvault-merge"
  | "ca-sign"
  | "acme-issuer";
const ALL: Entry[] = [
  "keyvault-create",
  "keyvault-policy-update",
  "keyvault-import",
  "keyvault-merge",
  "ca-sign",
  "acme-issuer",
];
const POLICY: Entry[] = [
  "keyvault-create",
  "keyvault-policy-update",
  "keyvault-import",
  "keyvault-merge",
  "acme-issuer",
];

/**
 * Every rule kind, a request that breaks it, and the entry points that can judge it: a signature
 * hash is known only once a certificate exists (import, merge); exportability and lifetime actions
 * only where a Key Vault policy is part of the request; a root set only for imports.
 */
const KINDS: { kind: string; value: unknown; spec: Partial<Spec>; entries: Entry[]; says: RegExp }[] = [
  { kind: "key-types", value: ["EC"], spec: {}, entries: ALL, says: /key type RSA/ },
  { kind: "min-rsa-key-size", value: 3072, spec: {}, entries: ALL, says: /RSA key size 2048 is below 3072/ },
  {
    kind: "curves",
    value: ["P-384"],
    spec: { kty: "EC", curve: "P-256" },
    entries: ALL,
    says: /curve P-256/,
  },
  {
    kind: "min-signature-hash",
    value: "SHA-384",
    spec: {},
    entries: ["keyvault-import", "keyvault-merge"],
    says: /SHA-256 is weaker than SHA-384/,
  },
  { kind: "max-validity-days", value: 100, spec: {}, entries: ALL, says: /exceeds 100/ },
  {
    kind: "dns-names",
    value: ["example.org"],
    spec: {},
    entries: ALL,
    says: /app\.example\.com is not under example\.org/,
  },
  {
    kind: "wildcards",
    value: false,
    spec: { dns: ["*.example.com"] },
    entries: ALL,
    says: /wildcard DNS name \*\.example\.com/,
  },
  {
    kind: "ip-sans",
    value: false,
    spec: { ips: ["10.0.0.1"] },
    entries: ALL,
    says: /IP address SAN 10\.0\.0\.1/,
  },
  { kind: "subject-attributes", value: ["C"], spec: {}, entries: ALL, says: /lacks C/ },
  {
    kind: "ekus",
    value: ["clientAuth"],
    spec: {},
    entries: ALL,
    says: new RegExp(`EKU ${SERVER_AUTH.replace(/\./g, "\\.")}`),
  },
  { kind: "required-ekus", value: ["codeSigning"], spec: {}, entries: ALL, says: /EKUs lack codeSigning/ },
  { kind: "exportable-keys", value: false, spec: {}, entries: POLICY, says: /exportable key/ },
  {
    kind: "auto-renew",
    value: 60,
    spec: {},
    entries: POLICY,
    says: /AutoRenew 30 days before expiry is less than 60|no AutoRenew lifetime action/,
  },
  { kind: "issuers", value: ["Nobody"], spec: {}, entries: ALL, says: /is not one of Nobody/ },
  {
    kind: "import-roots",
    value: ["0".repeat(64)],
    spec: {},
    entries: ["keyvault-import"],
    says: /not an allowed root/,
  },
];

const policyOf = (s: Spec, issuer: string) => ({
  issuer: { name: issuer },
  key_props: {
    kty: s.kty,
    exportable: s.exportable,
    reuse_key: false,
    ...(s.kty === "RSA" ? { key_size: s.keySize } : { crv: s.curve }),
  },
  secret_props: { contentType: "application/x-pem-file" },
  x509_props: {
    subject: s.subject,
    sans: { dns_names: s.dns, ...(s.ips.length && { ipAddresses: s.ips }) },
    ekus: s.ekus,
    validity_months: Math.round(s.validityDays / 30.4),
  },
  // Key Vault allows AutoRenew only with an issuer that can renew: not Unknown (import, merge).
  lifetime_actions:
    s.autoRenewDays === undefined || issuer === "Unknown"
      ? [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "EmailContacts" } }]
      : [{ trigger: { days_before_expiry: s.autoRenewDays }, action: { action_type: "AutoRenew" } }],
});

async function keysFor(s: Spec): Promise<CryptoKeyPair> {
  const algorithm =
    s.kty === "RSA"
      ? {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: s.keySize ?? 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        }
      : { name: "ECDSA", namedCurve: s.curve ?? "P-256" };
  return (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
}

const signing = (key: CryptoKey) =>
  key.algorithm.name === "ECDSA"
    ? { name: "ECDSA", hash: "SHA-256" }
    : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

function extensionsOf(s: Spec): x509.Extension[] {
  return [
    new x509.SubjectAlternativeNameExtension([
      ...s.dns.map((value) => ({ type: "dns" as const, value })),
      ...s.ips.map((value) => ({ type: "ip" as const, value })),
    ]),
    new x509.ExtendedKeyUsageExtension(s.ekus),
  ];
}

/** A certificate for `publicKey` with the spec's names, validity and EKUs, signed by `signer`. */
async function certificateOf(s: Spec, publicKey: CryptoKey, signer: { name: string; key: CryptoKey }) {
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    serialNumber: "01a2b3c4d5",
    subject: s.subject,
    issuer: signer.name,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now - DAY + s.validityDays * DAY),
    publicKey,
    signingKey: signer.key,
    signingAlgorithm: signing(signer.key),
    extensions: extensionsOf(s),
  });
}

const pkcs8Pem = async (key: CryptoKey) =>
  `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key))
    .toString("base64")
    .replace(/.{64}/g, "$&\n")
    .replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`;

describe("organisation rules refuse every kind of breach at every entry point and store nothing", () => {
  let server: InProcess;
  let externalCa: { name: string; key: CryptoKey; der: Buffer };
  let counter = 0;

  const kv = (method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown) =>
    server.kv({
      method,
      url: url.includes("/admin/") ? url : `${url}${url.includes("?") ? "&" : "?"}${V}`,
      ...(body !== undefined && { body }),
    });
  /** Every row of every table but the audit log, which records refused requests by design. */
  const rows = async () =>
    (await dumpAllRows(server.strongroom.core.storage))
      .split("\n")
      .filter((line) => !line.startsWith("audit_"))
      .join("\n");

  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false } });
    await server.strongroom.core.ca.createRoot({ name: "corp-root", subject: "CN=Corp Root, O=Contoso" });
    expect((await kv("PUT", "/certificates/issuers/acme1", { provider: "acme" })).statusCode).toBe(200);
    const created = await server.createCertificate("base", { policy: policyOf(BASE, "Self") });
    expect(created.statusCode, created.body).toBe(202);
    const caKeys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=Merge CA",
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 3650 * DAY),
      keys: caKeys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    externalCa = { name: "CN=Merge CA", key: caKeys.privateKey, der: Buffer.from(caCert.rawData) };
  });
  afterAll(() => server?.stop());

  /** Makes the request that breaks the rule; returns [response, rows before the refused call]. */
  async function attempt(entry: Entry, s: Spec) {
    const name = `c${++counter}`;
    switch (entry) {
      case "keyvault-create": {
        const before = await rows();
        return [
          await kv("POST", `/certificates/${name}/create`, { policy: policyOf(s, "Self") }),
          before,
        ] as const;
      }
      case "acme-issuer": {
        const before = await rows();
        return [
          await kv("POST", `/certificates/${name}/create`, { policy: policyOf(s, "acme1") }),
          before,
        ] as const;
      }
      case "keyvault-policy-update": {
        const before = await rows();
        return [await kv("PATCH", "/certificates/base/policy", policyOf(s, "Self")), before] as const;
      }
      case "keyvault-import": {
        const keys = await keysFor(s);
        const cert = await certificateOf(s, keys.publicKey, { name: s.subject, key: keys.privateKey });
        const value = `${cert.toString("pem")}\n${await pkcs8Pem(keys.privateKey)}`;
        const { issuer: _issuer, ...policy } = policyOf(s, "Unknown");
        const before = await rows();
        return [await kv("POST", `/certificates/${name}/import`, { value, policy }), before] as const;
      }
      case "keyvault-merge": {
        const pending = await kv("POST", `/certificates/${name}/create`, { policy: policyOf(s, "Unknown") });
        expect(pending.statusCode, pending.body).toBe(202);
        const csr = new x509.Pkcs10CertificateRequest(Buffer.from(pending.json().csr, "base64"));
        const cert = await certificateOf(s, await csr.publicKey.export(), externalCa);
        const x5c = [Buffer.from(cert.rawData).toString("base64"), externalCa.der.toString("base64")];
        const before = await rows();
        return [await kv("POST", `/certificates/${name}/pending/merge`, { x5c }), before] as const;
      }
      case "ca-sign": {
        const keys = await keysFor(s);
        const csr = await x509.Pkcs10CertificateRequestGenerator.create({
          name: s.subject,
          keys,
          signingAlgorithm: signing(keys.privateKey),
          extensions: [extensionsOf(s)[0] as x509.Extension],
        });
        const before = await rows();
        const res = await kv("POST", "/admin/cas/corp-root/sign", {
          csr: csr.toString("pem"),
          validityDays: s.validityDays,
          ekus: s.ekus,
        });
        return [res, before] as const;
      }
    }
  }

  const cases = KINDS.flatMap((k) => k.entries.map((entry) => ({ ...k, entry })));

  it.each(cases)("refuses $kind at $entry, naming the rule, and stores nothing", async (row) => {
    const set = await kv("PUT", "/admin/rules", { kind: row.kind, value: row.value, entries: [row.entry] });
    expect(set.statusCode, set.body).toBe(200);
    try {
      const [res, before] = await attempt(row.entry, { ...BASE, ...row.spec });
      expect(res.statusCode, res.body).toBe(400);
      const error = res.json().error;
      expect(error.code).toBe("BadParameter");
      expect(error.innererror).toEqual({ code: "PolicyViolation" });
      expect(error.message).toContain(`Organisation rule ${row.kind} (installation)`);
      expect(error.message).toContain(row.entry);
      expect(error.message).toMatch(row.says);
      expect(await rows()).toBe(before);
    } finally {
      expect((await kv("DELETE", `/admin/rules/${set.json().id}`)).statusCode).toBe(204);
    }
  });

  it.each(ALL)("lets a compliant request through at %s with every rule set", async (entry) => {
    const set: string[] = [];
    const compliant: [string, unknown][] = [
      ["key-types", ["RSA", "EC"]],
      ["min-rsa-key-size", 2048],
      ["max-validity-days", 400],
      ["dns-names", ["example.com"]],
      ["wildcards", false],
      ["ip-sans", false],
      ["subject-attributes", ["O"]],
      ["ekus", ["serverAuth", "clientAuth"]],
      ["required-ekus", ["serverAuth"]],
    ];
    for (const [kind, value] of compliant)
      set.push((await kv("PUT", "/admin/rules", { kind, value })).json().id);
    try {
      const [res] = await attempt(entry, BASE);
      // The ACME issuer gets past the rules and then fails for want of ACME settings: not a refusal.
      if (entry === "acme-issuer") expect(res.body).not.toContain("PolicyViolation");
      else expect(res.statusCode, res.body).toBeLessThan(300);
    } finally {
      for (const id of set) await kv("DELETE", `/admin/rules/${id}`);
    }
  });

  it("applies a vault's rule in place of the installation's, and a locked installation rule beside it", async () => {
    const vault = await kv("POST", "/admin/vaults", { name: "team" });
    expect(vault.statusCode, vault.body).toBeLessThan(300);
    const looseInstallation = await kv("PUT", "/admin/rules", { kind: "max-validity-days", value: 100 });
    const vaultRule = await kv("PUT", "/admin/rules", {
      kind: "max-validity-days",
      value: 400,
      vault: "team",
    });
    const inTeam = (name: string) =>
      server.kv({
        method: "POST",
        url: `/certificates/${name}/create?${V}`,
        headers: { host: `team.${server.strongroom.core.config.dnsSuffix}` },
        body: { policy: policyOf(BASE, "Self") },
      });
    try {
      // Unlocked: the vault's 400 days replaces the installation's 100 in the vault, not outside it.
      expect((await inTeam("inherits")).statusCode).toBe(202);
      expect(
        (await kv("POST", "/certificates/outside/create", { policy: policyOf(BASE, "Self") })).statusCode,
      ).toBe(400);

      // Locked: the installation's 100 days holds in the vault too, whatever the vault says.
      const locked = await kv("PUT", "/admin/rules", { kind: "max-validity-days", value: 100, locked: true });
      expect(locked.json().locked).toBe(true);
      const before = await rows();
      const refused = await inTeam("locked");
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.message).toContain("Organisation rule max-validity-days (installation)");
      expect(await rows()).toBe(before);

      const effective = await kv("GET", "/admin/rules?vault=team&effective=true");
      expect(effective.statusCode, effective.body).toBe(200);
      expect(
        effective.json().value.map((r: { level: string; value: unknown }) => [r.level, r.value]),
      ).toEqual([
        ["installation", 100],
        ["vault", 400],
      ]);
    } finally {
      await kv("DELETE", `/admin/rules/${looseInstallation.json().id}`);
      await kv("DELETE", `/admin/rules/${vaultRule.json().id}`);
    }
  });

  it("applies a CA's rule when that CA signs, and not when another does", async () => {
    await server.strongroom.core.ca.createRoot({ name: "other-root", subject: "CN=Other Root" });
    const rule = await kv("PUT", "/admin/rules", { kind: "max-validity-days", value: 30, ca: "corp-root" });
    try {
      const keys = await keysFor(BASE);
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: BASE.subject,
        keys,
        signingAlgorithm: signing(keys.privateKey),
      });
      const sign = (ca: string) =>
        kv("POST", `/admin/cas/${ca}/sign`, { csr: csr.toString("pem"), validityDays: 90 });
      const refused = await sign("corp-root");
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.message).toContain("Organisation rule max-validity-days (ca corp-root)");
      expect((await sign("other-root")).statusCode).toBe(201);
    } finally {
      await kv("DELETE", `/admin/rules/${rule.json().id}`);
    }
  });

  it("refuses a rule it could not mean with 400 and stores nothing", async () => {
    const before = await rows();
    for (const body of [
      { kind: "no-such-kind", value: 1 },
      { kind: "min-rsa-key-size", value: "big" },
      { kind: "key-types", value: ["RSA", "ROT13"] },
      { kind: "wildcards", value: "no" },
      { kind: "curves", value: ["P-256"], vault: "no-such-vault" },
      { kind: "curves", value: ["P-256"], vault: "team", locked: true },
      { kind: "curves", value: ["P-256"], entries: ["nowhere"] },
    ]) {
      const res = await kv("PUT", "/admin/rules", body);
      expect(res.statusCode, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, JSON.stringify(body)).toBeLessThan(500);
      expect(typeof res.json().error.message).toBe("string");
    }
    expect(await rows()).toBe(before);
  });
});
