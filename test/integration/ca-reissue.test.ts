import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr } from "../support/openssl-req.js";
import { serverBackends } from "../support/server-backends.js";

const V = "api-version=7.6";

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`POST /admin/cas/{ca}/issued/{serial}/reissue (${backend.name})`, () => {
    let server: InProcess;
    let drop: () => Promise<void> = async () => {};
    const dir = mkdtempSync(join(tmpdir(), "strongroom-ca-reissue-"));
    const admin = (method: "GET" | "POST", url: string, body?: unknown) => server.kv({ method, url, body });
    const latestOf = async (name: string) =>
      (await server.kv({ method: "GET", url: `/certificates/${name}?${V}` })).json();
    const leafOf = (bundle: { cer: string }) => new X509Certificate(Buffer.from(bundle.cer, "base64"));
    /** A serial as the CA records it: lower-case hex without leading zero bytes. */
    const serialOf = (leaf: X509Certificate) => leaf.serialNumber.toLowerCase().replace(/^(00)+/, "");

    beforeAll(async () => {
      const database = await backend.database();
      drop = async () => database?.drop();
      server = await startInProcess({ flags: { jobs: false }, ...(database && { database: database.url }) });
      const root = await admin("POST", "/admin/cas", {
        name: "root",
        kind: "root",
        subject: "CN=Reissue Root",
      });
      expect(root.statusCode, root.body).toBe(201);
      const issuer = await server.kv({
        method: "PUT",
        url: `/certificates/issuers/corp?${V}`,
        body: { provider: "PrivateCA", credentials: { account_id: "root" } },
      });
      expect(issuer.statusCode, issuer.body).toBe(200);
      const created = await server.createCertificate("portal", {
        policy: {
          issuer: { name: "corp" },
          key_props: { kty: "EC", crv: "P-256", reuse_key: true },
          x509_props: {
            subject: "CN=portal.internal",
            sans: { dns_names: ["portal.internal", "www.portal.internal"] },
            validity_months: 12,
          },
        },
      });
      expect(created.json().status, created.body).toBe("completed");
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("re-signs a vault certificate the CA issued for the same subject and SANs, with a new key, as a new version", async () => {
      const before = await latestOf("portal");
      const old = leafOf(before);
      const serial = serialOf(old);
      const reissued = await admin("POST", `/admin/cas/root/issued/${serial}/reissue`);
      expect(reissued.statusCode, reissued.body).toBe(200);
      const answer = reissued.json();
      expect(answer).toMatchObject({ vault: "default", certificate: "portal", status: "completed" });
      const after = await latestOf("portal");
      expect(after.id.endsWith(`/${answer.version}`)).toBe(true);
      expect(after.id).not.toBe(before.id);
      const renewed = leafOf(after);
      expect(renewed.subject).toBe(old.subject);
      expect(renewed.subjectAltName).toBe(old.subjectAltName);
      expect(renewed.issuer).toBe("CN=Reissue Root");
      expect(renewed.serialNumber).not.toBe(old.serialNumber);
      // A new key, though the policy reused keys: that is what a re-issue is for.
      expect(renewed.publicKey.export({ format: "der", type: "spki" })).not.toEqual(
        old.publicKey.export({ format: "der", type: "spki" }),
      );
      expect(answer.issued.serial).toBe(serialOf(renewed));
      const listed = (await admin("GET", "/admin/cas/root/issued")).json().value;
      expect(listed.map((i: { serial: string }) => i.serial)).toContain(answer.issued.serial);
    });

    it("refuses with 409 to re-issue a version that a newer one replaced", async () => {
      const versions = (await server.kv({ method: "GET", url: `/certificates/portal/versions?${V}` })).json()
        .value;
      const current = serialOf(leafOf(await latestOf("portal")));
      const issued = (await admin("GET", "/admin/cas/root/issued")).json().value as { serial: string }[];
      const older = issued.find((i) => i.serial !== current);
      const refused = await admin("POST", `/admin/cas/root/issued/${older?.serial}/reissue`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.message).toMatch(/has a newer version/);
      expect(
        (await server.kv({ method: "GET", url: `/certificates/portal/versions?${V}` })).json().value,
      ).toHaveLength(versions.length);
    });

    it("refuses with 409 a certificate signed from a CSR, whose key Strongroom does not hold", async () => {
      opensslCsr(join(dir, "leaf.key"), join(dir, "leaf.csr"), "/CN=device.internal");
      const signed = await admin("POST", "/admin/cas/root/sign", {
        csr: readFileSync(join(dir, "leaf.csr"), "utf8"),
      });
      expect(signed.statusCode, signed.body).toBe(201);
      const before = (await admin("GET", "/admin/cas/root/issued")).json().value.length;
      const refused = await admin("POST", `/admin/cas/root/issued/${signed.json().serial}/reissue`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.message).toContain("its key is held by whoever sent the request");
      expect((await admin("GET", "/admin/cas/root/issued")).json().value).toHaveLength(before);
    });

    it("answers an unknown serial or CA with 404", async () => {
      expect((await admin("POST", "/admin/cas/root/issued/abcdef/reissue")).statusCode).toBe(404);
      expect((await admin("POST", "/admin/cas/nowhere/issued/abcdef/reissue")).statusCode).toBe(404);
    });
  });
}
