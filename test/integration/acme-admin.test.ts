import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlAcmeStore } from "../../src/storage/sql-acme-store.js";
import { runCli } from "../support/cli.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";
const URL = "/admin/vaults/default/acme-issuers";

describe("the ACME settings admin API", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false } });
  });
  afterAll(() => server?.stop());

  it("sets, shows, lists and deletes an issuer's ACME settings", async () => {
    const body = {
      directoryUrl: "https://acme-v02.api.letsencrypt.org/directory",
      contacts: ["ops@example.com"],
      challenge: "dns-01",
      solver: "webhook",
      webhookUrl: "https://dns.example/acme",
    };
    const put = await server.kv({ method: "PUT", url: `${URL}/LetsEncrypt`, body });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({
      issuer: "LetsEncrypt",
      directoryUrl: body.directoryUrl,
      contacts: ["mailto:ops@example.com"],
      challenge: "dns-01",
      solver: "webhook",
      webhookUrl: "https://dns.example/acme",
    });
    expect((await server.kv({ method: "GET", url: `${URL}/letsencrypt` })).json()).toEqual(put.json());
    expect((await server.kv({ method: "GET", url: URL })).json().value).toEqual([put.json()]);
    expect((await server.kv({ method: "DELETE", url: `${URL}/letsencrypt` })).statusCode).toBe(204);
    const gone = await server.kv({ method: "GET", url: `${URL}/letsencrypt` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe("AcmeSettingsNotFound");
  });

  it.each([
    ["a plain-HTTP directory", { directoryUrl: "http://acme.example/dir" }, /https URL/],
    ["an unknown field", { directoryUrl: "https://acme.example/dir", eab: "x" }, /eab|additional/i],
    ["an unknown solver", { directoryUrl: "https://acme.example/dir", solver: "carrier-pigeon" }, /solver/],
    ["dns-01 on the responder", { directoryUrl: "https://acme.example/dir", challenge: "dns-01" }, /dns-01/],
  ])("refuses %s with Key Vault's 400", async (_name, body, message) => {
    const res = await server.kv({ method: "PUT", url: `${URL}/bad`, body });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("BadParameter");
    expect(res.json().error.message).toMatch(message);
  });

  it("asks for a token", async () => {
    const res = await server.kv({ method: "GET", url: URL, auth: false });
    expect(res.statusCode).toBe(401);
  });

  it("fails a certificate whose ACME issuer has no settings, saying how to set them", async () => {
    await server.kv({ method: "PUT", url: `/certificates/issuers/bare?${V}`, body: { provider: "acme" } });
    const res = await server.createCertificate("bare-cert", {
      policy: { issuer: { name: "bare" }, x509_props: { subject: "CN=bare.test" } },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json().status).toBe("failed");
    expect(res.json().error).toEqual({
      code: "AcmeNotConfigured",
      message: expect.stringMatching(/strongroom acme set default bare --directory/),
    });
  });

  it("fails a certificate whose common name is not among its subject alternative names, before asking the CA", async () => {
    await server.kv({ method: "PUT", url: `/certificates/issuers/cn-only?${V}`, body: { provider: "ACME" } });
    await server.kv({
      method: "PUT",
      url: `${URL}/cn-only`,
      body: { directoryUrl: "https://acme.invalid/directory" },
    });
    const res = await server.createCertificate("cn-only-cert", {
      policy: {
        issuer: { name: "cn-only" },
        x509_props: { subject: "CN=www.example.com", sans: { dns_names: ["example.com"] } },
      },
    });
    expect(res.json().status).toBe("failed");
    expect(res.json().error).toEqual({
      code: "AcmeCommonNameNotInSans",
      message:
        "ACME CAs issue only for the subject alternative names: add www.example.com to the policy's sans.dns_names",
    });
  });
});

describe("the http-01 challenge responder", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false, acmeHttpPort: 0 } });
  });
  afterAll(() => server?.stop());

  it("answers the key authorization of a stored token over plain HTTP, and 404 for any other", async () => {
    const base = `http://127.0.0.1:${server.strongroom.acmeHttpPort}/.well-known/acme-challenge`;
    const token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    expect((await fetch(`${base}/${token}`)).status).toBe(404);
    await createSqlAcmeStore(server.strongroom.core.storage).putChallenge(
      token,
      `${token}.thumb`,
      new Date(),
    );
    const res = await fetch(`${base}/${token}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`${token}.thumb`);
    expect((await fetch(`${base}/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
  });
});

describe("strongroom acme", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());
  const cli = (...args: string[]) => runCli([...args, "--data-dir", data.dir]);

  it("sets, shows, lists and deletes settings, and explains bad ones", () => {
    expect(cli("vault", "create", "team").code).toBe(0);
    const set = cli(
      ...["acme", "set", "team", "zerossl", "--directory", "https://acme.zerossl.com/v2/DV90"],
      ...["--email", "a@example.com", "b@example.com", "--challenge", "http-01", "--solver", "webroot"],
      ...["--webroot", "/srv/www"],
    );
    expect(set.code, set.stderr).toBe(0);
    const line =
      "zerossl\thttps://acme.zerossl.com/v2/DV90\thttp-01 webroot /srv/www\tmailto:a@example.com,mailto:b@example.com";
    expect(set.stdout.trim()).toBe(line);
    expect(cli("acme", "show", "team", "ZeroSSL").stdout.trim()).toBe(line);
    expect(cli("acme", "list", "team").stdout.trim()).toBe(line);
    const bad = cli("acme", "set", "team", "zerossl", "--directory", "https://x.example", "--solver", "hook");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/the hook solver needs command/);
    expect(cli("acme", "delete", "team", "zerossl").code).toBe(0);
    expect(cli("acme", "show", "team", "zerossl").stderr).toMatch(/zerossl has no ACME settings/);
  });
});
