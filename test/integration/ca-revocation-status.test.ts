import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr } from "../support/openssl-req.js";

interface Status {
  crl?: { url: string; number: number; thisUpdate: string; nextUpdate: string; shards: number };
  ocsp?: { url: string; responderNotAfter: string };
}

describe("GET /admin/cas/{name}/revocation-status: what a CA publishes about revocation", () => {
  let server: InProcess;
  const dir = mkdtempSync(join(tmpdir(), "strongroom-revocation-status-"));
  const admin = (method: "GET" | "POST", url: string, body?: unknown) => server.kv({ method, url, body });
  const status = async (name: string) => {
    const res = await admin("GET", `/admin/cas/${name}/revocation-status`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as Status;
  };

  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false } });
    for (const body of [
      { name: "root", kind: "root", subject: "CN=Status Root", crlShards: 2 },
      { name: "outside", kind: "intermediate", subject: "CN=Signed Elsewhere", external: true },
    ]) {
      const created = await admin("POST", "/admin/cas", body);
      expect(created.statusCode, created.body).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("names the full CRL, its number and validity, and the OCSP responder; the CRL is served at that URL", async () => {
    const root = (await admin("GET", "/admin/cas/root")).json();
    const { crl, ocsp } = await status("root");
    expect(crl).toMatchObject({
      url: expect.stringMatching(new RegExp(`/pki/crl/${root.id}\\.crl$`)),
      shards: 2,
    });
    expect(Date.parse(crl?.nextUpdate ?? "")).toBeGreaterThan(Date.parse(crl?.thisUpdate ?? ""));
    expect(ocsp?.url).toMatch(/\/ocsp$/);
    expect(Date.parse(ocsp?.responderNotAfter ?? "")).toBeGreaterThan(Date.parse(crl?.thisUpdate ?? ""));
    const served = await fetch(crl?.url ?? "");
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("application/pkix-crl");
  });

  it("moves to a new CRL number when a certificate is revoked", async () => {
    const before = (await status("root")).crl?.number ?? 0;
    opensslCsr(join(dir, "leaf.key"), join(dir, "leaf.csr"), "/CN=leaf.status.test");
    const signed = await admin("POST", "/admin/cas/root/sign", {
      csr: readFileSync(join(dir, "leaf.csr"), "utf8"),
    });
    expect(signed.statusCode, signed.body).toBe(201);
    const revoked = await admin("POST", "/admin/revocations", {
      serial: signed.json().serial,
      reason: "superseded",
    });
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect((await status("root")).crl?.number).toBeGreaterThan(before);
  });

  it("reports neither for a CA still waiting for its certificate, and 404 for an unknown CA", async () => {
    expect(await status("outside")).toEqual({});
    const unknown = await admin("GET", "/admin/cas/nope/revocation-status");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toEqual(expect.any(String));
  });
});
