import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

const V = "api-version=7.6";
const x509 = (props: Record<string, unknown>) => ({ x509_props: { subject: "CN=x", ...props } });
const sans = (names: Record<string, string[]>) => x509({ sans: names });
const autoRenew = { trigger: { lifetime_percentage: 80 }, action: { action_type: "AutoRenew" } };

// Each rule as Key Vault documents it (about-certificates, the REST reference's X509CertificateProperties
// and SubjectAlternativeNames, overview-renew-certificate) or as X.509 needs it (RFC 5280 §4.1.2.4,
// §4.2.1.6); the message must name the field so the caller knows what to fix.
const refused: [string, Record<string, unknown>, string][] = [
  ["an unknown key type", { key_props: { kty: "oct" } }, "policy.key_props.kty"],
  ["an EC key with key_size 2048", { key_props: { kty: "EC", key_size: 2048 } }, "policy.key_props.key_size"],
  ["an RSA key with a curve", { key_props: { kty: "RSA", crv: "P-256" } }, "policy.key_props.crv"],
  ["an RSA key of 1024 bits", { key_props: { kty: "RSA", key_size: 1024 } }, "policy.key_props.key_size"],
  [
    "an exportable RSA-HSM key",
    { key_props: { kty: "RSA-HSM", exportable: true } },
    "policy.key_props.exportable",
  ],
  [
    "an exportable EC-HSM key",
    { key_props: { kty: "EC-HSM", exportable: true } },
    "policy.key_props.exportable",
  ],
  ["a subject that is not a name", x509({ subject: "garbage" }), "policy.x509_props.subject"],
  ["a subject with a trailing fragment", x509({ subject: "CN=a, garbage" }), "policy.x509_props.subject"],
  ["a subject with an unknown attribute type", x509({ subject: "FOO=bar" }), "policy.x509_props.subject"],
  ["a subject ending in a separator", x509({ subject: "CN=a," }), "policy.x509_props.subject"],
  ["a subject with a bad escape", x509({ subject: "CN=a\\qb" }), "policy.x509_props.subject"],
  ["a subject with an unclosed quote", x509({ subject: 'CN="open' }), "policy.x509_props.subject"],
  ["a subject that is not text", x509({ subject: 42 }), "policy.x509_props.subject"],
  ["neither subject nor SAN", { x509_props: {} }, "policy.x509_props.subject"],
  [
    "an IPv4 address out of range",
    sans({ ipAddresses: ["10.0.0.256"] }),
    "policy.x509_props.sans.ipAddresses[0]",
  ],
  [
    "an IP address that is a name",
    sans({ ipAddresses: ["10.0.0.1", "not-an-ip"] }),
    "policy.x509_props.sans.ipAddresses[1]",
  ],
  [
    "an IPv6 address with a zone",
    sans({ ipAddresses: ["fe80::1%eth0"] }),
    "policy.x509_props.sans.ipAddresses[0]",
  ],
  [
    "an address with a prefix length",
    sans({ ipAddresses: ["10.0.0.0/8"] }),
    "policy.x509_props.sans.ipAddresses[0]",
  ],
  ["an e-mail without a domain", sans({ emails: ["pki@"] }), "policy.x509_props.sans.emails[0]"],
  ["an e-mail without an @", sans({ emails: ["pki.example.com"] }), "policy.x509_props.sans.emails[0]"],
  ["an e-mail with a space", sans({ emails: ["p ki@example.com"] }), "policy.x509_props.sans.emails[0]"],
  [
    "a DNS name with a space",
    sans({ dns_names: ["www example.com"] }),
    "policy.x509_props.sans.dns_names[0]",
  ],
  [
    "a DNS label starting with a hyphen",
    sans({ dns_names: ["-bad.example.com"] }),
    "policy.x509_props.sans.dns_names[0]",
  ],
  [
    "a wildcard that is not the first label",
    sans({ dns_names: ["www.*.example.com"] }),
    "policy.x509_props.sans.dns_names[0]",
  ],
  [
    "a DNS name with an empty label",
    sans({ dns_names: ["a..example.com"] }),
    "policy.x509_props.sans.dns_names[0]",
  ],
  ["a DNS name in Unicode", sans({ dns_names: ["bücher.example"] }), "policy.x509_props.sans.dns_names[0]"],
  [
    "a DNS list that is not a list",
    sans({ dns_names: "www.example.com" as unknown as string[] }),
    "policy.x509_props.sans.dns_names",
  ],
  ["a UPN without a domain", sans({ upns: ["alice"] }), "policy.x509_props.sans.upns[0]"],
  ["a UPN with nothing before the @", sans({ upns: ["@corp.example"] }), "policy.x509_props.sans.upns[0]"],
  ["a relative URI", sans({ uris: ["/relative/path"] }), "policy.x509_props.sans.uris[0]"],
  ["a URI without a scheme", sans({ uris: ["www.example.com/path"] }), "policy.x509_props.sans.uris[0]"],
  ["a URI with a space", sans({ uris: ["https://example.com/a b"] }), "policy.x509_props.sans.uris[0]"],
  [
    "AutoRenew for an Unknown issuer",
    { issuer: { name: "Unknown" }, lifetime_actions: [autoRenew] },
    "policy.lifetime_actions[0].action.action_type",
  ],
  [
    "an unknown lifetime action",
    { lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "Rotate" } }] },
    "policy.lifetime_actions[0].action.action_type",
  ],
  [
    "lifetime_percentage 0",
    { lifetime_actions: [{ trigger: { lifetime_percentage: 0 }, action: { action_type: "AutoRenew" } }] },
    "policy.lifetime_actions[0].trigger.lifetime_percentage",
  ],
  [
    "days_before_expiry beyond the validity",
    {
      lifetime_actions: [{ trigger: { days_before_expiry: 400 }, action: { action_type: "EmailContacts" } }],
    },
    "policy.lifetime_actions[0].trigger.days_before_expiry",
  ],
  [
    "two triggers in one action",
    {
      lifetime_actions: [
        { trigger: { lifetime_percentage: 80, days_before_expiry: 3 }, action: { action_type: "AutoRenew" } },
      ],
    },
    "policy.lifetime_actions[0].trigger",
  ],
  ["validity_months 0", x509({ validity_months: 0 }), "policy.x509_props.validity_months"],
  ["validity_months 1201", x509({ validity_months: 1201 }), "policy.x509_props.validity_months"],
  ["fractional validity_months", x509({ validity_months: 1.5 }), "policy.x509_props.validity_months"],
  ["an unknown key usage", x509({ key_usage: ["signEverything"] }), "policy.x509_props.key_usage"],
  ["key usages that are not a list", x509({ key_usage: "digitalSignature" }), "policy.x509_props.key_usage"],
  ["an EKU by name instead of OID", x509({ ekus: ["serverAuth"] }), "policy.x509_props.ekus"],
  ["an EKU that is not text", x509({ ekus: [1] }), "policy.x509_props.ekus"],
  [
    "an unknown content type",
    { secret_props: { contentType: "text/plain" } },
    "policy.secret_props.contentType",
  ],
];

describe("certificate policy rules", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
    const made = await server.createCertificate("target", {
      policy: { issuer: { name: "Self" }, x509_props: { subject: "CN=target" } },
    });
    expect(made.statusCode).toBe(202);
  });
  afterAll(() => server?.stop());

  const selfSigned = (policy: Record<string, unknown>) => ({
    issuer: { name: "Self" },
    x509_props: { subject: "CN=x" },
    ...policy,
  });

  it.each(refused)(
    "refuses %s on create with 400 BadParameter naming the field",
    async (what, policy, field) => {
      // A name per case, so what one case leaves behind cannot decide another.
      const name = what.replace(/[^A-Za-z0-9]+/g, "-");
      const res = await server.createCertificate(name, { policy: selfSigned(policy) });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe("BadParameter");
      expect(res.json().error.message).toContain(`${field}:`);
      for (const path of [`keys/${name}`, `secrets/${name}`, `certificates/${name}/pending`]) {
        expect((await server.kv({ method: "GET", url: `/${path}?${V}` })).statusCode).toBe(404);
      }
    },
  );

  // An update keeps what it does not name, so a policy without subject or SANs is not a contradiction there.
  it.each(refused.filter(([what]) => what !== "neither subject nor SAN"))(
    "refuses %s on a policy update and keeps the policy as it was",
    async (_what, policy, field) => {
      const before = (await server.kv({ method: "GET", url: `/certificates/target/policy?${V}` })).json();
      const res = await server.kv({ method: "PATCH", url: `/certificates/target/policy?${V}`, body: policy });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe("BadParameter");
      expect(res.json().error.message).toContain(`${field}:`);
      expect((await server.kv({ method: "GET", url: `/certificates/target/policy?${V}` })).json()).toEqual(
        before,
      );
    },
  );

  // What Key Vault's clients write and X.509 allows must still pass, and be encoded as written.
  it.each([
    ["CN=a\\, b", "CN=a\\, b"],
    ['CN="quoted, value"', "CN=quoted\\, value"],
    ["cn=lower.example, o=Lower", "CN=lower.example\nO=Lower"],
    ["CN=semi.example; O=Semi", "CN=semi.example\nO=Semi"],
    ["  CN = spaced.example ,  O = Spaced  ", "CN=spaced.example\nO=Spaced"],
    // A multi-valued RDN is a SET: DER sorts it by encoding, and that order is what is printed.
    ["CN=multi.example+OU=Multi", "OU=Multi + CN=multi.example"],
    ["2.5.4.3=by-oid.example", "CN=by-oid.example"],
    [
      "CN=caf\\C3\\A9, E=pki@example.com, DC=example, DC=com",
      "CN=café\nemailAddress=pki@example.com\nDC=example\nDC=com",
    ],
    [
      "SERIALNUMBER=42, STREET=1 Main St, POSTALCODE=12345, UID=u1",
      "serialNumber=42\nstreet=1 Main St\npostalCode=12345\nUID=u1",
    ],
    ["CN=Zoë Ünicode", "CN=Zoë Ünicode"],
  ])("accepts the subject %j and encodes it as %j", async (subject, printed) => {
    const res = await server.createCertificate("named", {
      policy: { issuer: { name: "Self" }, x509_props: { subject } },
    });
    expect(res.statusCode, res.body).toBe(202);
    const cert = (await server.kv({ method: "GET", url: `/certificates/named?${V}` })).json();
    const leaf = new X509Certificate(Buffer.from(cert.cer, "base64"));
    expect(leaf.subject).toBe(printed);
    expect(leaf.issuer).toBe(printed);
    expect(cert.policy.x509_props.subject).toBe(subject);
  });
});

/** A policy with every field Key Vault's wire format has, none left to defaults. */
const fullPolicy = (key_props: Record<string, unknown>) => ({
  key_props,
  secret_props: { contentType: "application/x-pem-file" },
  x509_props: {
    subject: "CN=full.example, O=Strongroom",
    sans: {
      emails: ["pki@full.example"],
      dns_names: ["full.example", "*.full.example"],
      upns: ["alice@corp.full.example"],
      uris: ["https://full.example/service", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"],
      ipAddresses: ["10.0.0.1", "2001:db8::1", "::ffff:192.0.2.1"],
    },
    ekus: ["1.3.6.1.5.5.7.3.1"],
    key_usage: ["digitalSignature", "keyEncipherment"],
    validity_months: 3,
    basic_constraints: { ca: false },
  },
  lifetime_actions: [{ trigger: { days_before_expiry: 30 }, action: { action_type: "EmailContacts" } }],
  issuer: { name: "Self", cty: "OV-SSL", cert_transparency: true },
  attributes: { enabled: true },
});

/** Creates `name` with `policy`, and checks the policy read back and the certificate's SANs. */
async function expectRoundTrip(server: InProcess, name: string, policy: ReturnType<typeof fullPolicy>) {
  const created = await server.createCertificate(name, { policy });
  expect(created.statusCode, created.body).toBe(202);
  expect(created.json().status).toBe("completed");
  const { id, attributes, ...rest } = (
    await server.kv({ method: "GET", url: `/certificates/${name}/policy?${V}` })
  ).json();
  expect(id).toMatch(new RegExp(`/certificates/${name}/policy$`));
  expect(attributes.enabled).toBe(true);
  expect(rest).toEqual({ ...policy, attributes: undefined });
  const cer = (await server.kv({ method: "GET", url: `/certificates/${name}?${V}` })).json().cer;
  const leaf = new X509Certificate(Buffer.from(cer, "base64"));
  expect(leaf.subject).toBe("CN=full.example\nO=Strongroom");
  expect(leaf.subjectAltName?.split(", ")).toEqual([
    "DNS:full.example",
    "DNS:*.full.example",
    "email:pki@full.example",
    "URI:https://full.example/service",
    "URI:urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "IP Address:10.0.0.1",
    "IP Address:2001:DB8:0:0:0:0:0:1",
    "IP Address:0:0:0:0:0:FFFF:C000:201",
    "othername:UPN:alice@corp.full.example",
  ]);
}

describe("certificate policy round trip", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
  });
  afterAll(() => server?.stop());

  it("round-trips a full policy exactly and puts every SAN in the certificate", async () => {
    await expectRoundTrip(
      server,
      "full",
      fullPolicy({ exportable: false, kty: "EC", key_size: 384, reuse_key: true, crv: "P-384" }),
    );
  });
});

describe.skipIf(!softHsmAvailable)("certificate policy round trip with keys in the HSM", () => {
  const work = tempDataDir();
  let server: InProcess;
  beforeAll(async () => {
    const token = createSoftHsmToken(work.dir);
    process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
    server = await startInProcess({
      flags: { pkcs11Module: token.module, pkcs11TokenLabel: token.label, pkcs11Pin: token.pin },
    });
    await server.strongroom.app.inject({
      method: "PATCH",
      url: "/admin/vaults/default",
      headers: { authorization: `Bearer ${await server.token()}`, "content-type": "application/json" },
      payload: JSON.stringify({ sku: "premium" }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it("round-trips a full RSA-HSM policy exactly", async () => {
    await expectRoundTrip(
      server,
      "full-hsm",
      fullPolicy({ exportable: false, kty: "RSA-HSM", key_size: 3072, reuse_key: false }),
    );
    const key = (await server.kv({ method: "GET", url: `/keys/full-hsm?${V}` })).json().key;
    expect(key.kty).toBe("RSA-HSM");
    expect(Buffer.from(key.n, "base64url").length * 8).toBe(3072);
  });

  it("records an -HSM key whose exportability the policy leaves unsaid as not exportable", async () => {
    const created = await server.createCertificate("unsaid-hsm", {
      policy: { issuer: { name: "Self" }, key_props: { kty: "EC-HSM" }, x509_props: { subject: "CN=u" } },
    });
    expect(created.statusCode, created.body).toBe(202);
    const policy = (await server.kv({ method: "GET", url: `/certificates/unsaid-hsm/policy?${V}` })).json();
    expect(policy.key_props).toMatchObject({ kty: "EC-HSM", exportable: false });
  });
});
