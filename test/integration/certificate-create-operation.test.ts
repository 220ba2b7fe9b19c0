import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";

// keyvault-api.md §3: Key Vault answers a create 202 with the operation in progress and completes it
// on a later poll; the Python SDK's poller only fetches the certificate after it saw inProgress.
describe("certificate create answers inProgress and completes on a later poll, for every issuer", () => {
  let server: InProcess;
  const get = (url: string) => server.kv({ method: "GET", url: `${url}?${V}` });

  beforeAll(async () => {
    // No jobs: only the client's poll may move the operation on.
    server = await startInProcess({ flags: { jobs: false } });
    const core = server.strongroom.core;
    await core.ca.createRoot({ name: "op-root", subject: "CN=Operation Root", pathLength: 1 });
    const issuer = await server.kv({
      method: "PUT",
      url: `/certificates/issuers/corp?${V}`,
      body: { provider: "PrivateCA", credentials: { account_id: "op-root" } },
    });
    expect(issuer.statusCode, issuer.body).toBe(200);
    const bogus = await server.kv({
      method: "PUT",
      url: `/certificates/issuers/nowhere?${V}`,
      body: { provider: "NoSuchProvider" },
    });
    expect(bogus.statusCode, bogus.body).toBe(200);
  });
  afterAll(() => server?.stop());

  const create = (name: string, issuer: string, attributes: Record<string, unknown> = {}) =>
    server.kv({
      method: "POST",
      url: `/certificates/${name}/create?${V}`,
      body: {
        policy: {
          issuer: { name: issuer },
          key_props: { kty: "EC" },
          x509_props: { subject: `CN=${name}.example`, sans: { dns_names: [`${name}.example`] } },
        },
        attributes,
      },
    });

  it.each([
    ["Self", "self-op"],
    ["corp", "ca-op"],
  ])(
    "a %s create answers 202 inProgress with a Location, and the first poll completes it",
    async (issuer, name) => {
      const created = await create(name, issuer);
      expect(created.statusCode, created.body).toBe(202);
      expect(created.json()).toMatchObject({ status: "inProgress", issuer: { name: issuer } });
      expect(created.json().csr).toEqual(expect.any(String));
      expect(String(created.headers.location)).toContain(`/certificates/${name}/pending?`);
      // Until the poll, the certificate is pending: its GET shows no X.509 and no backing key exists.
      const pending = await get(`/certificates/${name}`);
      expect(pending.statusCode).toBe(200);
      expect(pending.json().cer).toBeUndefined();
      expect((await get(`/keys/${name}`)).statusCode).toBe(404);

      const polled = await get(`/certificates/${name}/pending`);
      expect(polled.json()).toMatchObject({ status: "completed", target: expect.stringContaining(name) });
      const certificate = await get(`/certificates/${name}`);
      expect(certificate.json().cer).toEqual(expect.any(String));
    },
  );

  it("keeps the enabled the create asked for when the version is made on the poll", async () => {
    await create("disabled-op", "Self", { enabled: false });
    expect((await get("/certificates/disabled-op/pending")).json().status).toBe("completed");
    expect((await get("/certificates/disabled-op")).json().attributes.enabled).toBe(false);
  });

  it("fails on the first poll an issuer whose provider no adapter serves", async () => {
    const created = await create("unserved-op", "nowhere");
    expect(created.json().status).toBe("inProgress");
    expect((await get("/certificates/unserved-op/pending")).json()).toMatchObject({
      status: "failed",
      error: { code: "UnsupportedIssuerProvider" },
    });
  });

  it("completes a Self operation nobody polls through the pending-issuance job", async () => {
    await create("unpolled-op", "Self");
    const vault = await server.strongroom.core.vaults.find("default");
    if (!vault) throw new Error("no default vault");
    const advanced = await server.strongroom.core.certificates.advance(vault, "unpolled-op");
    expect(advanced?.status).toBe("completed");
    expect((await get("/certificates/unpolled-op")).json().cer).toEqual(expect.any(String));
  });

  it("keeps Unknown in progress on every poll until a merge", async () => {
    const created = await create("merge-op", "Unknown");
    expect(created.json().status).toBe("inProgress");
    expect((await get("/certificates/merge-op/pending")).json().status).toBe("inProgress");
    expect((await get("/certificates/merge-op/pending")).json().status_details).toMatch(/Perform Merge/);
  });
});
