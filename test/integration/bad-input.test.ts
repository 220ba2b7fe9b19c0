import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";

interface Row {
  name: string;
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
  url: string;
  body?: unknown;
  payload?: string;
  status: number;
  code: string;
  message?: RegExp;
}

/** A create body with a Self policy, `extra` merged into it. */
function certificatePolicy(extra: Record<string, unknown>) {
  return {
    policy: {
      issuer: { name: "Self" },
      key_props: { kty: "EC" },
      x509_props: { subject: "CN=c" },
      ...extra,
    },
  };
}

const table: Row[] = [
  {
    name: "malformed JSON",
    method: "PUT",
    url: `/secrets/a?${V}`,
    payload: "{not json",
    status: 400,
    code: "BadParameter",
  },
  {
    name: "a missing value",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { contentType: "x" },
    status: 400,
    code: "BadParameter",
    message: /value/,
  },
  {
    name: "a value of the wrong type",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { value: 5 },
    status: 400,
    code: "BadParameter",
    message: /value/,
  },
  {
    name: "tags that are not strings",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { value: "v", tags: { a: 1 } },
    status: 400,
    code: "BadParameter",
  },
  {
    name: "more than 15 tags",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { value: "v", tags: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, "x"])) },
    status: 400,
    code: "BadParameter",
    message: /15 tags/,
  },
  {
    name: "a value over 25 KiB",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { value: "x".repeat(25 * 1024 + 1) },
    status: 400,
    code: "BadParameter",
    message: /limit is 25600 bytes/,
  },
  {
    name: "a body over the request limit",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { value: "x".repeat(2 * 1024 * 1024) },
    status: 413,
    code: "BadParameter",
  },
  {
    name: "a name with an underscore",
    method: "PUT",
    url: `/secrets/bad_name?${V}`,
    body: { value: "v" },
    status: 400,
    code: "BadParameter",
    message: /name "bad_name" is invalid/,
  },
  {
    name: "a name of 128 characters",
    method: "PUT",
    url: `/secrets/${"n".repeat(128)}?${V}`,
    body: { value: "v" },
    status: 400,
    code: "BadParameter",
  },
  {
    name: "nbf after exp",
    method: "PUT",
    url: `/secrets/a?${V}`,
    body: { value: "v", attributes: { nbf: 2000000000, exp: 1900000000 } },
    status: 400,
    code: "BadParameter",
    message: /nbf/,
  },
  {
    name: "a version that is not 32 hex digits",
    method: "GET",
    url: `/secrets/a/xyz?${V}`,
    status: 400,
    code: "BadParameter",
    message: /version/,
  },
  {
    name: "an unknown api-version",
    method: "GET",
    url: "/secrets/a?api-version=1999-01-01",
    status: 400,
    code: "BadParameter",
    message: /not recognized/,
  },
  {
    name: "a missing api-version",
    method: "GET",
    url: "/secrets/a",
    status: 400,
    code: "BadParameter",
    message: /api-version/,
  },
  {
    name: "maxresults above 25",
    method: "GET",
    url: `/secrets?${V}&maxresults=26`,
    status: 400,
    code: "BadParameter",
    message: /maxresults/,
  },
  {
    name: "maxresults that is not a number",
    method: "GET",
    url: `/secrets?${V}&maxresults=ten`,
    status: 400,
    code: "BadParameter",
  },
  {
    name: "a restore blob that is not base64url",
    method: "POST",
    url: `/secrets/restore?${V}`,
    body: { value: "!!!" },
    status: 400,
    code: "BadParameter",
  },
  {
    name: "a restore blob from elsewhere",
    method: "POST",
    url: `/secrets/restore?${V}`,
    body: { value: Buffer.from("forged backup").toString("base64url") },
    status: 400,
    code: "BadParameter",
    message: /master key/,
  },
  // Over-limit rows: every numeric and list field gets a 400 naming the field and its limit.
  ...(["nbf", "exp"] as const).flatMap((field): Row[] => [
    {
      name: `a secret ${field} of 1e300`,
      method: "PUT",
      url: `/secrets/a?${V}`,
      payload: `{"value":"v","attributes":{"${field}":1e300}}`,
      status: 400,
      code: "BadParameter",
      message: new RegExp(`attributes/${field} must be <= 253402300799`),
    },
    {
      name: `a negative secret ${field}`,
      method: "PUT",
      url: `/secrets/a?${V}`,
      body: { value: "v", attributes: { [field]: -1 } },
      status: 400,
      code: "BadParameter",
      message: new RegExp(`attributes/${field} must be >= 0`),
    },
  ]),
  {
    name: "a secret update's exp of 1e300",
    method: "PATCH",
    url: `/secrets/a?${V}`,
    payload: '{"attributes":{"exp":1e300}}',
    status: 400,
    code: "BadParameter",
    message: /attributes\/exp must be <= 253402300799/,
  },
  ...(
    [
      ["dns_names", (i: number) => `host${i}.example`, 10_000],
      ["emails", (i: number) => `user${i}@example.com`, 101],
      ["upns", (i: number) => `user${i}@example.com`, 101],
      ["uris", (i: number) => `https://example.com/${i}`, 101],
      ["ipAddresses", (i: number) => `10.0.${Math.floor(i / 256)}.${i % 256}`, 101],
    ] as const
  ).map(
    ([kind, value, count]): Row => ({
      name: `${count} ${kind} in a certificate policy`,
      method: "POST",
      url: `/certificates/c/create?${V}`,
      body: certificatePolicy({
        x509_props: { subject: "CN=c", sans: { [kind]: Array.from({ length: count }, (_, i) => value(i)) } },
      }),
      status: 400,
      code: "BadParameter",
      message: new RegExp(`policy\\.x509_props\\.sans\\.${kind}: at most 100 names, not ${count}`),
    }),
  ),
  ...(
    [
      [
        "21 extended key usages",
        { x509_props: { subject: "CN=c", ekus: Array.from({ length: 21 }, (_, i) => `1.2.3.${i}`) } },
        /policy\.x509_props\.ekus: at most 20 extended key usages, not 21/,
      ],
      [
        "10 key usages",
        { x509_props: { subject: "CN=c", key_usage: Array.from({ length: 10 }, () => "digitalSignature") } },
        /policy\.x509_props\.key_usage: at most 9 key usages, not 10/,
      ],
      [
        "11 lifetime actions",
        {
          lifetime_actions: Array.from({ length: 11 }, () => ({
            trigger: { lifetime_percentage: 80 },
            action: { action_type: "EmailContacts" },
          })),
        },
        /policy\.lifetime_actions: at most 10 lifetime actions, not 11/,
      ],
      [
        "validity_months of 1201",
        { x509_props: { subject: "CN=c", validity_months: 1201 } },
        /policy\.x509_props\.validity_months: must be an integer from 1 to 1200, not 1201/,
      ],
      [
        "validity_months of 1e300",
        { x509_props: { subject: "CN=c", validity_months: 1e300 } },
        /policy\.x509_props\.validity_months: must be an integer from 1 to 1200, not 1e\+300/,
      ],
      [
        "a lifetime_percentage of 100",
        {
          lifetime_actions: [{ trigger: { lifetime_percentage: 100 }, action: { action_type: "AutoRenew" } }],
        },
        /policy\.lifetime_actions\[0\]\.trigger\.lifetime_percentage: must be an integer from 1 to 99, not 100/,
      ],
      [
        "days_before_expiry of 1e300",
        {
          lifetime_actions: [
            { trigger: { days_before_expiry: 1e300 }, action: { action_type: "AutoRenew" } },
          ],
        },
        /policy\.lifetime_actions\[0\]\.trigger\.days_before_expiry: must be an integer from 1 to less than the validity/,
      ],
      [
        "an RSA key_size of 1e300",
        { key_props: { kty: "RSA", key_size: 1e300 } },
        /policy\.key_props\.key_size: must be 2048, 3072 or 4096 for RSA, not 1e\+300/,
      ],
    ] as const
  ).map(
    ([what, policy, message]): Row => ({
      name: `a certificate policy with ${what}`,
      method: "POST",
      url: `/certificates/c/create?${V}`,
      body: certificatePolicy(policy),
      status: 400,
      code: "BadParameter",
      message,
    }),
  ),
  {
    name: "a certificate create's exp of 1e300",
    method: "POST",
    url: `/certificates/c/create?${V}`,
    payload: `{"policy":${JSON.stringify(certificatePolicy({}).policy)},"attributes":{"exp":1e300}}`,
    status: 400,
    code: "BadParameter",
    message: /attributes\/exp must be <= 253402300799/,
  },
  {
    name: "16 tags on a certificate",
    method: "POST",
    url: `/certificates/c/create?${V}`,
    body: {
      ...certificatePolicy({}),
      tags: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, "x"])),
    },
    status: 400,
    code: "BadParameter",
    message: /15 tags/,
  },
  {
    name: "a merge with 11 x5c entries",
    method: "POST",
    url: `/certificates/c/pending/merge?${V}`,
    body: { x5c: Array.from({ length: 11 }, () => "MA==") },
    status: 400,
    code: "BadParameter",
    message: /x5c must NOT have more than 10 items/,
  },
  {
    name: "51 certificate contacts",
    method: "PUT",
    url: `/certificates/contacts?${V}`,
    body: { contacts: Array.from({ length: 51 }, (_, i) => ({ email: `c${i}@example.com` })) },
    status: 400,
    code: "BadParameter",
    message: /contacts must NOT have more than 50 items/,
  },
  {
    name: "an issuer with 21 administrators",
    method: "PUT",
    url: `/certificates/issuers/many?${V}`,
    body: {
      provider: "PrivateCA",
      org_details: { admin_details: Array.from({ length: 21 }, (_, i) => ({ email: `a${i}@example.com` })) },
    },
    status: 400,
    code: "BadParameter",
    message: /admin_details must NOT have more than 20 items/,
  },
  { name: "an unknown route", method: "GET", url: `/nothing/here?${V}`, status: 404, code: "NotFound" },
  {
    name: "a secret that does not exist",
    method: "GET",
    url: `/secrets/absent?${V}`,
    status: 404,
    code: "SecretNotFound",
  },
  {
    name: "an update of a missing secret",
    method: "PATCH",
    url: `/secrets/absent?${V}`,
    body: { tags: {} },
    status: 404,
    code: "SecretNotFound",
  },
  {
    name: "a recovery of a secret never deleted",
    method: "POST",
    url: `/deletedsecrets/absent/recover?${V}`,
    status: 404,
    code: "SecretNotFound",
  },
  {
    name: "a purge of a secret never deleted",
    method: "DELETE",
    url: `/deletedsecrets/absent?${V}`,
    status: 404,
    code: "SecretNotFound",
  },
];

describe("bad input gets Key Vault's error format, the right status and no change", () => {
  const clock = fakeClock(new Date());
  let server: InProcess;

  beforeAll(async () => {
    server = await startInProcess({ clock });
  });
  afterAll(() => server?.stop());

  it.each(table)("answers $name with $status $code", async (row) => {
    const res = await server.kv({
      method: row.method,
      url: row.url,
      ...(row.body !== undefined && { body: row.body }),
      ...(row.payload !== undefined && { payload: row.payload }),
    });
    expect(res.statusCode).toBe(row.status);
    const body = res.json();
    expect(body.error.code).toBe(row.code);
    expect(typeof body.error.message).toBe("string");
    if (row.message) expect(body.error.message).toMatch(row.message);
  });

  it("has written nothing after all of them", async () => {
    const res = await server.kv({ method: "GET", url: `/secrets?${V}` });
    expect(res.json()).toEqual({ value: [], nextLink: null });
    const certificates = await server.kv({ method: "GET", url: `/certificates?${V}&includePending=true` });
    expect(certificates.json()).toEqual({ value: [], nextLink: null });
    expect((await server.kv({ method: "GET", url: `/certificates/contacts?${V}` })).statusCode).toBe(404);
    expect((await server.kv({ method: "GET", url: `/certificates/issuers?${V}` })).json().value).toEqual([]);
  });

  it("challenges a request without a token before reading its body", async () => {
    const res = await server.kv({ method: "PUT", url: `/secrets/a?${V}`, payload: "", auth: false });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe(
      `Bearer authorization="${server.strongroom.admin.authorityHost}/${server.strongroom.admin.tenantId}", resource="https://localhost"`,
    );
    expect(res.json().error.code).toBe("Unauthorized");
  });

  it("refuses a malformed token with 401", async () => {
    const res = await server.kv({
      method: "GET",
      url: `/secrets?${V}`,
      auth: false,
      headers: { authorization: "Bearer not.a.jwt" },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe("Unauthorized");
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer authorization=/);
  });

  it("refuses a token signed by another installation with 401", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const { admin } = server.strongroom;
    const now = Math.floor(clock.now().getTime() / 1000);
    const forged = await new SignJWT({ oid: "x", appid: admin.clientId, tid: admin.tenantId })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(`${admin.authorityHost}/${admin.tenantId}/v2.0`)
      .setAudience("https://localhost")
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
    const res = await server.kv({
      method: "GET",
      url: `/secrets?${V}`,
      auth: false,
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(res.statusCode).toBe(401);
  });

  it("refuses an expired token with 401", async () => {
    const token = await server.token();
    const ok = await server.kv({
      method: "GET",
      url: `/secrets?${V}`,
      auth: false,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.statusCode).toBe(200);
    clock.advance(2 * 3600 * 1000);
    const res = await server.kv({
      method: "GET",
      url: `/secrets?${V}`,
      auth: false,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(401);
  });

  it("refuses a wrong client secret at the token endpoint with invalid_client", async () => {
    const { admin } = server.strongroom;
    const res = await server.strongroom.app.inject({
      method: "POST",
      url: `/${admin.tenantId}/oauth2/v2.0/token`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `grant_type=client_credentials&client_id=${admin.clientId}&client_secret=wrong&scope=https%3A%2F%2Flocalhost%2F.default`,
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_client");
  });

  it("refuses a scope for a resource it does not serve with invalid_scope", async () => {
    const { admin } = server.strongroom;
    const res = await server.strongroom.app.inject({
      method: "POST",
      url: `/${admin.tenantId}/oauth2/v2.0/token`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `grant_type=client_credentials&client_id=${admin.clientId}&client_secret=${admin.clientSecret}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_scope");
  });
});
