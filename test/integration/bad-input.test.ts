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
