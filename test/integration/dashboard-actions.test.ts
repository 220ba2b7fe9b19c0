import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.5";

describe("the admin endpoints the dashboard's certificate page uses", () => {
  let server: InProcess;
  const admin = (method: "GET" | "POST", url: string) => server.kv({ method, url });

  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false } });
    const created = await server.createCertificate("web", {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: "CN=web.example", validity_months: 12 },
      },
    });
    expect(created.statusCode, created.body).toBe(202);
  });
  afterAll(() => server?.stop());

  it("renews a vault certificate with its stored policy and lists the new version first", async () => {
    const renewed = await admin("POST", "/admin/vaults/default/certificates/web/reissue");
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect(renewed.json()).toMatchObject({ status: "completed", version: expect.any(String) });
    const { value } = (await admin("GET", "/admin/vaults/default/certificates/web/versions")).json();
    expect(value).toHaveLength(2);
    const latest = (await server.kv({ method: "GET", url: `/certificates/web?${V}` })).json();
    expect(latest.id.endsWith(`/${renewed.json().version}`)).toBe(true);
  });

  it("answers an unknown vault or certificate in Key Vault's error format, and writes nothing", async () => {
    const before = (await admin("GET", "/admin/vaults/default/certificates/web/versions")).json().value
      .length;
    for (const url of [
      "/admin/vaults/nowhere/certificates/web/reissue",
      "/admin/vaults/default/certificates/missing/reissue",
    ]) {
      const refused = await admin("POST", url);
      expect(refused.statusCode, url).toBe(404);
      expect(refused.json().error.code).toMatch(/NotFound/);
    }
    const missing = await admin("GET", "/admin/vaults/default/certificates/missing/versions");
    expect(missing.statusCode).toBe(404);
    expect((await admin("GET", "/admin/vaults/default/certificates/web/versions")).json().value).toHaveLength(
      before,
    );
  });

  it("lists one certificate's findings by fingerprint and refuses a malformed one with 400", async () => {
    const fingerprint = "ab".repeat(32);
    const none = await admin("GET", `/admin/findings?fingerprint=${fingerprint}`);
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({ value: [], next: null });
    const bad = await admin("GET", "/admin/findings?fingerprint=not-hex");
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBeDefined();
  });

  it("reads a page size from the query string of the findings, alerts and approvals lists, and refuses one out of range with 400", async () => {
    for (const url of [
      "/admin/findings?limit=1000&after=0",
      "/admin/alerts?limit=5",
      "/admin/approvals?limit=5",
    ]) {
      const listed = await admin("GET", url);
      expect(listed.statusCode, `${url}: ${listed.body}`).toBe(200);
      expect(listed.json().value).toEqual([]);
    }
    for (const url of ["/admin/findings?limit=1001", "/admin/alerts?limit=0", "/admin/approvals?limit=ten"]) {
      const refused = await admin("GET", url);
      expect(refused.statusCode, url).toBe(400);
      expect(refused.json().error.code).toBeDefined();
    }
  });
});
