import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assignRole, createPrincipal, type Json, tokenFor } from "../support/access.js";
import { backends, type TestDatabase } from "../support/backends.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const V = "api-version=7.6";
const DAY = 86_400_000;

const wildcardPolicy = (host: string) => ({
  policy: {
    key_props: { kty: "EC", crv: "P-256" },
    x509_props: { subject: `CN=*.${host}`, sans: { dns_names: [`*.${host}`] } },
    issuer: { name: "Self" },
  },
});

describe.each(backends.filter((b) => b.available))(
  "Key Vault certificate creates held for approval on $engine",
  (backend) => {
    const clock = fakeClock(new Date());
    let database: TestDatabase;
    let server: InProcess;
    let approverToken: string;
    let approver: { id: string; clientId: string; clientSecret: string };

    const kv = (...args: Parameters<InProcess["kv"]>) => server.kv(...args);
    const admin = async (token: string, method: "POST" | "PUT", url: string, body: unknown) => {
      const res = await server.strongroom.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        payload: JSON.stringify(body),
      });
      return { status: res.statusCode, body: res.json() as Json };
    };
    const poll = async (name: string) =>
      (await kv({ method: "GET", url: `/certificates/${name}/pending?${V}` })).json();
    const operationRow = (name: string) =>
      server.strongroom.core.storage.db
        .selectFrom("certificate_operations")
        .select(["approval_id", "key_material", "status"])
        .where("name", "=", name)
        .executeTakeFirstOrThrow();
    const create = async (name: string) => {
      const created = await kv({
        method: "POST",
        url: `/certificates/${name}/create?${V}`,
        body: wildcardPolicy(`${name}.example`),
      });
      expect(created.statusCode).toBe(202);
      const approvalId = (await operationRow(name)).approval_id;
      expect(approvalId).toEqual(expect.any(String));
      return { operation: created.json(), approvalId: approvalId as string };
    };
    /** What the pending-issuance job does for the operation in one round. */
    const jobStep = async (name: string) => {
      const vaults = await server.strongroom.core.vaults.list();
      const vault = vaults.find((v) => v.name === "default");
      if (!vault) throw new Error("no default vault");
      return server.strongroom.core.certificates.advance(vault, name);
    };

    beforeAll(async () => {
      database = await backend.createDatabase();
      server = await startInProcess({ clock, database: database.url, flags: { jobs: false } });
      const rule = await admin(await server.token(), "PUT", "/admin/rules", {
        kind: "approval",
        value: { approvals: 1, wildcards: true },
        entries: ["keyvault-create"],
      });
      expect(rule.status, JSON.stringify(rule.body)).toBe(200);
      approver = await createPrincipal(server, "approver");
      await assignRole(server, approver.id, "Strongroom Administrator", "/");
      approverToken = await tokenFor(server, approver.clientId, approver.clientSecret);
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await database?.drop();
    });

    it("keeps a held create in progress, naming its approval request, and refuses the requester's own approval", async () => {
      const { operation, approvalId } = await create("own");
      expect(operation.status).toBe("inProgress");
      expect(operation.status_details).toContain(approvalId);
      expect(operation.status_details).toContain("wildcard name *.own.example");

      const own = await admin(await server.token(), "POST", `/admin/approvals/${approvalId}/approve`, {});
      expect(own.status).toBe(403);
      expect(own.body.error.message).toMatch(/own request/);

      for (let i = 0; i < 3; i++) expect((await poll("own")).status).toBe("inProgress");
      expect((await jobStep("own"))?.status).toBe("inProgress");
      expect((await kv({ method: "GET", url: `/certificates/own?${V}` })).json().cer).toBeUndefined();

      const approved = await admin(approverToken, "POST", `/admin/approvals/${approvalId}/approve`, {});
      expect(approved.status).toBe(200);
      const done = await poll("own");
      expect(done.status).toBe("completed");
      const certificate = await kv({ method: "GET", url: `/certificates/own?${V}` });
      expect(certificate.statusCode).toBe(200);
      expect(certificate.json().policy.x509_props.sans.dns_names).toEqual(["*.own.example"]);
      expect((await operationRow("own")).approval_id).toBe(approvalId);
    });

    it("completes an approved create in the pending-issuance job's next round", async () => {
      const { approvalId } = await create("by-job");
      expect((await admin(approverToken, "POST", `/admin/approvals/${approvalId}/approve`, {})).status).toBe(
        200,
      );
      expect((await jobStep("by-job"))?.status).toBe("completed");
    });

    it("fails the operation with ApprovalDenied and the approver's reason, destroying the pending key", async () => {
      const { approvalId } = await create("denied");
      const denied = await admin(approverToken, "POST", `/admin/approvals/${approvalId}/deny`, {
        reason: "wildcards are for the edge team",
      });
      expect(denied.status).toBe(200);
      const failed = await poll("denied");
      expect(failed.status).toBe("failed");
      expect(failed.error.code).toBe("ApprovalDenied");
      expect(failed.error.message).toContain("wildcards are for the edge team");
      expect((await operationRow("denied")).key_material).toBeNull();
    });

    const approvalState = async (id: string) => (await server.strongroom.core.approvals.get(id)).state;

    it("cancels the approval request when the held operation is cancelled, and refuses a decision on it", async () => {
      const { approvalId } = await create("cancelled");
      const cancelled = await kv({
        method: "PATCH",
        url: `/certificates/cancelled/pending?${V}`,
        body: { cancellation_requested: true },
      });
      expect(cancelled.statusCode).toBe(200);
      expect(await approvalState(approvalId)).toBe("cancelled");
      const late = await admin(approverToken, "POST", `/admin/approvals/${approvalId}/approve`, {});
      expect(late.status).toBe(409);
      expect(late.body.error.message).toMatch(/cancelled/);
    });

    it("cancels the approval request when the held operation is deleted", async () => {
      const { approvalId } = await create("dropped");
      expect((await kv({ method: "DELETE", url: `/certificates/dropped/pending?${V}` })).statusCode).toBe(
        200,
      );
      expect(await approvalState(approvalId)).toBe("cancelled");
    });

    it("cancels the approval request of a held new version when the certificate is deleted, and the operation fails with ApprovalCancelled", async () => {
      const first = await create("renewed");
      await admin(approverToken, "POST", `/admin/approvals/${first.approvalId}/approve`, {});
      expect((await poll("renewed")).status).toBe("completed");
      const second = await create("renewed");
      expect((await kv({ method: "DELETE", url: `/certificates/renewed?${V}` })).statusCode).toBe(200);
      expect(await approvalState(second.approvalId)).toBe("cancelled");
      const failed = await jobStep("renewed");
      expect(failed?.status).toBe("failed");
      expect(failed?.error?.code).toBe("ApprovalCancelled");
    });

    it("lets a Certificate Approver of one certificate decide that certificate's requests and no other's", async () => {
      const scoped = await createPrincipal(server, "cert-approver");
      await assignRole(server, scoped.id, "Certificate Approver", "/vaults/default/certificates/mine");
      const token = await tokenFor(server, scoped.clientId, scoped.clientSecret);
      const mine = await create("mine");
      const theirs = await create("theirs");
      const refused = await admin(token, "POST", `/admin/approvals/${theirs.approvalId}/approve`, {});
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain("/vaults/default/certificates/theirs");
      expect((await admin(token, "POST", `/admin/approvals/${mine.approvalId}/approve`, {})).status).toBe(
        200,
      );
      expect((await poll("mine")).status).toBe("completed");
      // The rest of the admin API stays closed to an approver.
      expect((await admin(token, "PUT", "/admin/rules", { kind: "wildcards", value: false })).status).toBe(
        403,
      );
    });

    it("fails the operation with ApprovalExpired once the approval request expires", async () => {
      const { approvalId } = await create("expiring");
      expect((await poll("expiring")).status).toBe("inProgress");
      clock.advance(server.strongroom.core.config.approvalExpiryMs + DAY);
      const failed = await poll("expiring");
      expect(failed.status).toBe("failed");
      expect(failed.error.code).toBe("ApprovalExpired");
      expect(failed.error.message).toContain(approvalId);
      expect((await operationRow("expiring")).key_material).toBeNull();
      // The clock moved past the tokens' lifetime too.
      approverToken = await tokenFor(server, approver.clientId, approver.clientSecret);
      const late = await admin(approverToken, "POST", `/admin/approvals/${approvalId}/approve`, {});
      expect(late.status).toBe(409);
    });
  },
);
