import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventGridDeserializer } from "@azure/eventgrid";
import { HTTP } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalEventData } from "../../src/domain/approvals/model.js";
import type { AuditRecord } from "../../src/domain/audit/model.js";
import { adminCall, assignRole, createPrincipal, type Json, tokenFor } from "../support/access.js";
import { backends, type TestDatabase } from "../support/backends.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";
import { smtpCapture } from "../support/smtp-capture.js";
import { receiver } from "../support/webhook-receiver.js";

const DAY = 86_400_000;

describe.each(backends.filter((b) => b.available))(
  "the CA sign API held for approval on $engine",
  (backend) => {
    const clock = fakeClock(new Date());
    const work = tempDataDir();
    const endpoint = receiver();
    const smtp = smtpCapture();
    const { mails } = smtp;
    let database: TestDatabase;
    let server: InProcess;
    const approver = { id: "", clientId: "", clientSecret: "" };
    const elsewhere = { id: "", clientId: "", clientSecret: "" };

    const call = async (token: string, method: "GET" | "POST", url: string, body?: unknown) => {
      const res = await server.strongroom.app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      return { status: res.statusCode, headers: res.headers, body: res.json() as Json };
    };
    const as = async (who: typeof approver) => tokenFor(server, who.clientId, who.clientSecret);
    const csr = (name: string) => {
      const base = join(work.dir, name);
      opensslCsr(`${base}.key`, `${base}.csr`, `/CN=${name}.example`, `DNS:${name}.example`);
      return readFileSync(`${base}.csr`, "utf8");
    };
    const sign = async (name: string) => {
      const res = await call(await server.token(), "POST", "/admin/cas/issuing/sign", { csr: csr(name) });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return res;
    };
    const poll = async (location: string) => call(await server.token(), "GET", location);
    const decide = async (who: typeof approver, id: string, verb: "approve" | "deny", reason?: string) =>
      call(await as(who), "POST", `/admin/approvals/${id}/${verb}`, reason === undefined ? {} : { reason });
    const run = async (...jobs: string[]) => {
      for (const job of jobs) await server.strongroom.scheduler.runOnce(job);
    };

    beforeAll(async () => {
      const smtpPort = await smtp.start();
      const base = await endpoint.start();
      database = await backend.createDatabase();
      server = await startInProcess({
        clock,
        database: database.url,
        flags: {
          jobs: false,
          smtpHost: "127.0.0.1",
          smtpPort,
          approvalMailTo: ["approvers@example.com"],
        },
      });
      for (const name of ["issuing", "other"]) {
        const created = await adminCall(server, "POST", "/admin/cas", {
          name,
          subject: `CN=${name} CA`,
          kind: "root",
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
      }
      const rule = await adminCall(server, "PUT", "/admin/rules", {
        kind: "approval",
        ca: "issuing",
        value: { approvals: 1 },
        entries: ["ca-sign"],
      });
      expect(rule.status, JSON.stringify(rule.body)).toBe(200);
      Object.assign(approver, await createPrincipal(server, "issuing-approver"));
      await assignRole(server, approver.id, "Certificate Approver", "/cas/issuing");
      Object.assign(elsewhere, await createPrincipal(server, "other-approver"));
      await assignRole(server, elsewhere.id, "Certificate Approver", "/cas/other");
      for (const [name, schema] of [
        ["grid", "EventGridSchema"],
        ["ce", "CloudEventSchemaV1_0"],
      ] as const) {
        const hook = await adminCall(server, "POST", "/admin/webhooks", {
          name,
          endpoint: `${base}/${name}`,
          eventTypes: ["Strongroom.Approvals.ApprovalRequested", "Strongroom.Approvals.ApprovalDecided"],
          schema,
        });
        expect(hook.status, JSON.stringify(hook.body)).toBe(201);
      }
      // The mail job starts from the outbox's current end.
      await run("mail");
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      await database?.drop();
      await endpoint.stop();
      await smtp.stop();
      work.remove();
    });

    it("answers 202 with a request id and a Location that stays pending, then serves the certificate once an approver of that CA approves", async () => {
      const held = await sign("approved");
      const { requestId, location } = held.body;
      expect(held.headers.location).toBe(`/admin/cas/issuing/sign-requests/${requestId}`);
      expect(location).toBe(held.headers.location);
      expect(held.headers["retry-after"]).toBeDefined();
      expect(held.body.approval).toMatchObject({
        id: requestId,
        entry: "ca-sign",
        state: "pending",
        required: 1,
      });

      const pending = await poll(location);
      expect(pending.status).toBe(202);
      expect(pending.body.state, JSON.stringify(pending.body)).toBe("pending");
      expect((await adminCall(server, "GET", "/admin/cas/issuing/issued")).body.value).toEqual([]);

      expect((await decide(approver, requestId, "approve", "known host")).status).toBe(200);
      const issued = await poll(location);
      expect(issued.status, JSON.stringify(issued.body)).toBe(200);
      expect(issued.body.subject).toBe("CN=approved.example");
      const pemFile = join(work.dir, "approved.pem");
      writeFileSync(pemFile, issued.body.certificate);
      const caFile = join(work.dir, "issuing-ca.pem");
      writeFileSync(caFile, issued.body.chain.join(""));
      expect(execFileSync("openssl", ["verify", "-CAfile", caFile, pemFile], { encoding: "utf8" })).toContain(
        "OK",
      );
      expect((await poll(location)).body.serial).toBe(issued.body.serial);
    });

    it("signs an approved request once however many polls race", async () => {
      const held = await sign("raced");
      expect((await decide(approver, held.body.requestId, "approve")).status).toBe(200);
      const answers = await Promise.all(Array.from({ length: 6 }, () => poll(held.body.location)));
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
      expect(new Set(answers.map((a) => a.body.serial)).size).toBe(1);
      const issued = (await adminCall(server, "GET", "/admin/cas/issuing/issued")).body.value as Json[];
      expect(issued.filter((i) => i.subject === "CN=raced.example")).toHaveLength(1);
    });

    it("refuses the requester's own approval, and an approver of another CA or with no approver role, with 403", async () => {
      const held = await sign("scoped");
      const own = await call(
        await server.token(),
        "POST",
        `/admin/approvals/${held.body.requestId}/approve`,
        {},
      );
      expect(own.status).toBe(403);
      expect(own.body.error.message).toMatch(/own request/);
      const other = await decide(elsewhere, held.body.requestId, "approve");
      expect(other.status).toBe(403);
      expect(other.body.error.message).toMatch(/Strongroom\/approvals\/decide.*\/cas\/issuing/);
      const nobody = await createPrincipal(server, "no-role");
      const bare = await decide(nobody, held.body.requestId, "approve");
      expect(bare.status).toBe(403);
      expect((await call(await as(nobody), "GET", "/admin/approvals")).status).toBe(403);
      // An approver anywhere may read the requests; one at another CA's scope still decides nothing here.
      expect((await call(await as(elsewhere), "GET", `/admin/approvals/${held.body.requestId}`)).status).toBe(
        200,
      );
      expect((await poll(held.body.location)).status).toBe(202);
    });

    it("answers the poll with 403 and the denier's reason once denied", async () => {
      const held = await sign("denied");
      expect((await decide(approver, held.body.requestId, "deny", "not a host we run")).status).toBe(200);
      const refused = await poll(held.body.location);
      expect(refused.status).toBe(403);
      expect(refused.body.error.innererror.code).toBe("ApprovalDenied");
      expect(refused.body.error.message).toContain("not a host we run");
      expect(refused.body.error.message).toContain(approver.id);
    });

    it("answers the poll with 403 ApprovalExpired once the request expires undecided", async () => {
      const held = await sign("expiring");
      clock.advance(server.strongroom.core.config.approvalExpiryMs + DAY);
      await run("approval-expiry");
      const refused = await poll(held.body.location);
      expect(refused.status).toBe(403);
      expect(refused.body.error.innererror.code).toBe("ApprovalExpired");
      expect(refused.body.error.message).toContain(held.body.requestId);
    });

    it("signs at once, 201, on a CA no approval rule applies to", async () => {
      const res = await call(await server.token(), "POST", "/admin/cas/other/sign", { csr: csr("direct") });
      expect(res.status).toBe(201);
      expect(res.body.certificate).toMatch(/BEGIN CERTIFICATE/);
    });

    it("answers 404 for a request id of another CA or none", async () => {
      const held = await sign("wrong-ca");
      expect((await poll(`/admin/cas/other/sign-requests/${held.body.requestId}`)).status).toBe(404);
      expect((await poll("/admin/cas/issuing/sign-requests/nope")).status).toBe(404);
    });

    it("delivers requested and decided events in Event Grid and CloudEvents, and mails the approvers", async () => {
      await run("webhooks", "webhooks", "mail");
      const grid = (
        await Promise.all(
          endpoint.received
            .filter((r) => r.path === "/grid")
            .map((r) => new EventGridDeserializer().deserializeEventGridEvents(r.body)),
        )
      ).flat();
      const requested = grid.filter((e) => e.eventType === "Strongroom.Approvals.ApprovalRequested");
      const decided = grid.filter((e) => e.eventType === "Strongroom.Approvals.ApprovalDecided");
      expect(requested.length).toBe(6);
      expect(decided.map((e) => (e.data as ApprovalEventData).state).sort()).toEqual([
        "approved",
        "approved",
        "denied",
        // The clock's jump expired the request still pending from the scope test too.
        "expired",
        "expired",
      ]);
      expect(requested[0]?.topic).toBe("/strongroom/approvals");
      expect(requested[0]?.data).toMatchObject({
        entry: "ca-sign",
        state: "pending",
        summary: expect.any(String),
      });
      const ce = endpoint.received
        .filter((r) => r.path === "/ce")
        .flatMap((r) => {
          const e = HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body });
          return Array.isArray(e) ? e : [e];
        });
      expect(ce.map((e) => e.type).sort()).toEqual(grid.map((e) => e.eventType).sort());
      const denied = decided.find((e) => (e.data as ApprovalEventData).state === "denied");
      expect((denied?.data as ApprovalEventData | undefined)?.outcome).toBe("not a host we run");

      expect(mails.length).toBe(11);
      expect(mails.every((m) => m.to.join(",") === "approvers@example.com")).toBe(true);
      expect(mails.some((m) => /Subject: Approval requested: CN=approved\.example/.test(m.raw))).toBe(true);
      expect(mails.some((m) => /Subject: Approval denied: CN=denied\.example/.test(m.raw))).toBe(true);
    });

    it("audits each step with the principal who took it", async () => {
      await server.strongroom.core.audit.drain();
      const rows: AuditRecord[] = [];
      for await (const row of server.strongroom.core.audit.records(0))
        if (["CaSign", "CaSignRequestGet", "ApprovalApprove", "ApprovalDeny"].includes(row.operation))
          rows.push(row);
      const admin = server.strongroom.admin.clientId;
      const by = (operation: string, outcome = "success") =>
        rows.filter((r) => r.operation === operation && r.outcome === outcome);
      expect(by("CaSign").length).toBeGreaterThan(0);
      expect(by("CaSign").every((r) => r.clientId === admin)).toBe(true);
      expect(by("ApprovalApprove").map((r) => r.principalId)).toContain(approver.id);
      expect(by("ApprovalDeny").map((r) => r.principalId)).toEqual([approver.id]);
      expect(by("ApprovalApprove", "failure").map((r) => r.principalId)).toContain(elsewhere.id);
    });
  },
);
