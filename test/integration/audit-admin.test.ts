import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/domain/audit/model.js";
import { assignRole, createPrincipal, type Json, tokenFor } from "../support/access.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";

const DAY_MS = 86_400_000;
const START = Date.UTC(2020, 0, 1);

/** Rows of a past week, written through the audit service as requests and jobs write theirs. */
const seeded: AuditEntry[] = Array.from({ length: 7 }, (_, day) => ({
  time: new Date(START + day * DAY_MS),
  requestId: `seed-${day}`,
  principalId: day % 2 === 0 ? "alice-id" : "bob-id",
  clientId: day % 2 === 0 ? "alice-client" : "bob-client",
  vault: "default",
  operation: day < 4 ? "SecretGet" : "CertificateCreate",
  objectId: `https://seed.example/${day < 4 ? "secrets" : "certificates"}/item_${day}`,
  outcome: day === 6 ? "failure" : "success",
  status: day === 6 ? 403 : 200,
  clientAddress: "10.1.2.3",
}));

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(`the audit log in the admin API (${backend.name})`, () => {
    let server: InProcess;
    let drop: () => Promise<void> = async () => {};
    let adminToken: string;

    const call = async (token: string, method: "GET" | "POST", url: string) => {
      const res = await server.strongroom.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
      });
      return {
        status: res.statusCode,
        headers: res.headers,
        text: res.body,
        json: (): Json => res.json(),
      };
    };
    const search = async (query: string) => {
      const res = await call(adminToken, "GET", `/admin/audit?${query}`);
      expect(res.status, res.text).toBe(200);
      return res.json() as { value: { requestId: string; seq: number }[]; nextLink?: string };
    };
    const ids = (rows: { requestId: string }[]) => rows.map((r) => r.requestId);
    /** The seeded rows' window, so rows written by the tests' own requests stay out. */
    const seededWindow = `since=2020-01-01T00:00:00Z&until=2020-01-08T00:00:00Z`;

    beforeAll(async () => {
      const database = await backend.database();
      drop = async () => database?.drop();
      server = await startInProcess({ flags: { jobs: false }, ...(database && { database: database.url }) });
      for (const entry of seeded) await server.strongroom.core.audit.record(entry);
      adminToken = await server.token();
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await drop();
    });

    it("lists rows newest first and filters by actor, action, object and time", async () => {
      expect(ids((await search(seededWindow)).value)).toEqual([
        "seed-6",
        "seed-5",
        "seed-4",
        "seed-3",
        "seed-2",
        "seed-1",
        "seed-0",
      ]);
      expect(ids((await search(`${seededWindow}&actor=bob-id`)).value)).toEqual([
        "seed-5",
        "seed-3",
        "seed-1",
      ]);
      expect(ids((await search(`${seededWindow}&actor=alice-client`)).value)).toEqual([
        "seed-6",
        "seed-4",
        "seed-2",
        "seed-0",
      ]);
      expect(ids((await search(`${seededWindow}&action=CertificateCreate`)).value)).toEqual([
        "seed-6",
        "seed-5",
        "seed-4",
      ]);
      // `_` in the prefix is a character, not a wildcard.
      expect(
        ids((await search(`object=${encodeURIComponent("https://seed.example/secrets/item_")}`)).value),
      ).toEqual(["seed-3", "seed-2", "seed-1", "seed-0"]);
      expect(ids((await search("since=2020-01-03T00:00:00Z&until=2020-01-05T00:00:00Z")).value)).toEqual([
        "seed-3",
        "seed-2",
      ]);
      expect(ids((await search(`${seededWindow}&outcome=failure`)).value)).toEqual(["seed-6"]);
    });

    it("pages with limit and the next link until the rows run out", async () => {
      const first = await search(`${seededWindow}&actor=alice-id&limit=3`);
      expect(ids(first.value)).toEqual(["seed-6", "seed-4", "seed-2"]);
      expect(first.nextLink).toMatch(/^\/admin\/audit\?/);
      const second = await call(adminToken, "GET", first.nextLink as string);
      expect(ids(second.json().value)).toEqual(["seed-0"]);
      expect(second.json().nextLink).toBeUndefined();
    });

    it("shows the request that searched the log in the log", async () => {
      await search("action=SecretGet");
      const rows = (await search("action=AuditSearch&limit=5")).value as unknown as {
        clientId: string;
        outcome: string;
      }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]).toMatchObject({ outcome: "success", clientId: server.strongroom.admin.clientId });
    });

    it("refuses a malformed time, an unknown outcome and a limit out of range with 400", async () => {
      for (const query of ["since=yesterday", "outcome=maybe", "limit=0", "limit=1001"]) {
        const res = await call(adminToken, "GET", `/admin/audit?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.json().error.code).toBeTruthy();
      }
    });

    it("exports the filtered rows as JSON lines and as OCSF API Activity events", async () => {
      const json = await call(
        adminToken,
        "GET",
        `/admin/audit/export?format=json&${seededWindow}&actor=bob-id`,
      );
      expect(json.status).toBe(200);
      expect(json.headers["content-type"]).toMatch(/application\/x-ndjson/);
      const rows = json.text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(rows.map((r) => r.requestId)).toEqual(["seed-1", "seed-3", "seed-5"]);
      expect(rows[0]).toMatchObject({ time: "2020-01-02T00:00:00.000Z", operation: "SecretGet" });
      expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);

      const ocsf = await call(
        adminToken,
        "GET",
        `/admin/audit/export?format=ocsf&${seededWindow}&outcome=failure`,
      );
      expect(ocsf.status).toBe(200);
      const events = ocsf.text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        class_uid: 6003,
        activity_name: "Create",
        status: "Failure",
        status_code: "403",
        actor: { user: { uid: "alice-id" } },
        api: { operation: "CertificateCreate", request: { uid: "seed-6" } },
      });
      expect((await call(adminToken, "GET", "/admin/audit/export?format=csv")).status).toBe(400);
    });

    it("refuses a Reader without the audit right with 403 and lets an Auditor read, and nothing else", async () => {
      const reader = await createPrincipal(server, "audit-reader");
      await assignRole(server, reader.id, "Strongroom Reader", "/");
      const readerToken = await tokenFor(server, reader.clientId, reader.clientSecret);
      expect((await call(readerToken, "GET", "/admin/vaults")).status).toBe(200);
      for (const [method, url] of [
        ["GET", "/admin/audit"],
        ["POST", "/admin/audit/verify"],
        ["GET", "/admin/audit/export"],
      ] as const) {
        const refused = await call(readerToken, method, url);
        expect(refused.status, url).toBe(403);
        expect(refused.json().error.message).toContain("Strongroom/audit/read");
      }

      const auditor = await createPrincipal(server, "auditor");
      await assignRole(server, auditor.id, "Strongroom Auditor", "/");
      const auditorToken = await tokenFor(server, auditor.clientId, auditor.clientSecret);
      const read = await call(auditorToken, "GET", `/admin/audit?${seededWindow}`);
      expect(read.status).toBe(200);
      expect(read.json().value).toHaveLength(seeded.length);
      expect((await call(auditorToken, "POST", "/admin/audit/verify")).status).toBe(200);
      expect((await call(auditorToken, "GET", "/admin/vaults")).status).toBe(403);
    });

    it("verifies the chain as intact while other requests write to it", async () => {
      const [verdict] = await Promise.all([
        call(adminToken, "POST", "/admin/audit/verify"),
        ...Array.from({ length: 20 }, () => call(adminToken, "GET", "/admin/vaults")),
      ]);
      expect(verdict.status).toBe(200);
      expect(verdict.json()).toMatchObject({ intact: true });
      expect(verdict.json().rows).toBeGreaterThanOrEqual(seeded.length);
    });

    // Last: the log stays tampered for the rest of the suite.
    it("reports the row an edit in the database altered", async () => {
      const db = server.strongroom.core.storage.audit.db;
      const row = await db
        .selectFrom("audit_log")
        .select("seq")
        .where("request_id", "=", "seed-3")
        .executeTakeFirstOrThrow();
      await db
        .updateTable("audit_log")
        .set({ principal_id: "someone-else" })
        .where("seq", "=", row.seq)
        .execute();
      const res = await call(adminToken, "POST", "/admin/audit/verify");
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ intact: false, firstBadSeq: row.seq, problem: "altered" });
      expect(res.json().message).toContain(`row ${row.seq}`);
    });
  });
}
