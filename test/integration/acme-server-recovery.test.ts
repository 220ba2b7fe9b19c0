import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlAcmeServerStore } from "../../src/storage/sql-acme-server-store.js";
import {
  type AccountKey,
  type AcmeClient,
  accountKey,
  createAcmeClient,
  csrFor,
} from "../support/acme-client.js";
import {
  type AcmeServerUnderTest,
  startAcmeServer,
  startHttp01Responder,
  validateOrder,
} from "../support/acme-server.js";
import { backends, type TestDatabase } from "../support/backends.js";
import { failInsertsInto } from "../support/faults.js";
import { fakeClock } from "../support/in-process.js";
import { pebbleAvailable } from "../support/pebble.js";

const PROBLEM = "urn:ietf:params:acme:error:";
/** Longer than the lease a signing node holds an order for. */
const LEASE_PASSED_MS = 61_000;
/** Longer than an approval request waits for its approvers (approvalExpiryMs's default). */
const APPROVAL_EXPIRED_MS = 7 * 86_400_000 + 1;

describe.each(backends.filter((b) => b.available && pebbleAvailable))(
  "ACME orders whose signing was interrupted, and held orders whose approval expired, on $engine",
  (backend) => {
    let database: TestDatabase;
    let acme: AcmeServerUnderTest;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let client: AcmeClient;
    let key: AccountKey;
    const accounts: Record<string, string> = {};
    const clock = fakeClock(new Date());

    beforeAll(async () => {
      database = await backend.createDatabase();
      acme = await startAcmeServer({ plain: {}, held: {} }, { database: database.url, clock });
      responder = await startHttp01Responder(acme.httpPort);
      await acme.server.strongroom.core.rules.set({
        profile: "acme:held",
        kind: "approval",
        value: { approvals: 1 },
      });
      client = createAcmeClient({
        directoryUrl: acme.directory("plain"),
        ca: readFileSync(acme.tlsCaFile, "utf8"),
      });
      key = await accountKey("ES256");
    }, 60_000);

    afterAll(async () => {
      client?.close();
      await responder?.close();
      await acme?.stop();
      await database?.drop();
    });

    const db = () => acme.server.strongroom.core.storage.db;
    const directory = (profile: string) => acme.directory(profile).replace(/\/directory$/, "");
    const url = (profile: string, path: string) => `${directory(profile)}/${path}`;

    async function kid(profile: string): Promise<string> {
      if (!accounts[profile]) {
        const made = await client.post(url(profile, "new-account"), key, { termsOfServiceAgreed: true });
        expect(made.status, made.body).toBe(201);
        accounts[profile] = made.headers.location as string;
      }
      return accounts[profile] as string;
    }

    const get = async (profile: string, at: string) =>
      client.post(at, key, undefined, { kid: await kid(profile) });

    /** An order for `name` on `profile`, validated and ready; its URL and finalize URL. */
    async function readyOrder(profile: string, name: string) {
      const placed = await client.post(
        url(profile, "new-order"),
        key,
        { identifiers: [{ type: "dns", value: name }] },
        { kid: await kid(profile) },
      );
      expect(placed.status, placed.body).toBe(201);
      const orderUrl = placed.headers.location as string;
      const ready = await validateOrder(client, responder.answers, orderUrl, key, await kid(profile));
      expect(ready.status).toBe("ready");
      return { orderUrl, finalizeUrl: ready.finalize as string };
    }

    const finalize = async (profile: string, finalizeUrl: string, name: string) =>
      client.post(finalizeUrl, key, { csr: await csrFor([name]) }, { kid: await kid(profile) });

    /** Certificates the CA stored for `name`: one, however often the order was signed. */
    async function issuedFor(name: string): Promise<number> {
      const rows = await db().selectFrom("ca_issued").select("subject").execute();
      return rows.filter((r) => r.subject === `CN=${name}`).length;
    }

    async function heldOrder(name: string) {
      const { orderUrl, finalizeUrl } = await readyOrder("held", name);
      const finalized = await finalize("held", finalizeUrl, name);
      expect(finalized.json().status, finalized.body).toBe("processing");
      const row = await db()
        .selectFrom("acme_server_orders")
        .select("approval_id")
        .where("id", "=", orderUrl.split("/").pop() as string)
        .executeTakeFirstOrThrow();
      return { orderUrl, approvalId: row.approval_id as string };
    }

    it("signs an approved order again once the lease of a node that died before storing its certificate runs out, issuing one certificate", async () => {
      const { orderUrl, approvalId } = await heldOrder("crashed.example.test");
      await acme.server.strongroom.core.approvals.approve(approvalId, "approver-1", "fine");

      const restore = await failInsertsInto(db(), backend.engine, "ca_issued");
      let interrupted: Awaited<ReturnType<typeof get>>;
      try {
        interrupted = await get("held", orderUrl);
      } finally {
        await restore();
      }
      expect(interrupted.status, interrupted.body).toBe(500);
      expect(interrupted.json().type).toBe(`${PROBLEM}serverInternal`);

      const leased = await get("held", orderUrl);
      expect(leased.json().status).toBe("processing");
      expect(await issuedFor("crashed.example.test")).toBe(0);

      clock.advance(LEASE_PASSED_MS);
      const signed = await get("held", orderUrl);
      expect(signed.json().status, signed.body).toBe("valid");
      const leaf = new X509Certificate((await get("held", signed.json().certificate)).body);
      expect(leaf.subjectAltName).toBe("DNS:crashed.example.test");
      expect((await get("held", orderUrl)).json().status).toBe("valid");
      expect(await issuedFor("crashed.example.test")).toBe(1);
      const approval = await acme.server.strongroom.core.approvals.get(approvalId);
      expect(approval.issued?.serial).toBe(leaf.serialNumber.toLowerCase());
    }, 60_000);

    it("leaves nothing to a second node while the first one's lease holds an approved order", async () => {
      const { orderUrl, approvalId } = await heldOrder("leased.example.test");
      await acme.server.strongroom.core.approvals.approve(approvalId, "approver-1", "fine");
      const id = orderUrl.split("/").pop() as string;
      // Another node took it to sign and has not stored the certificate (yet, or ever).
      const otherNode = createSqlAcmeServerStore(acme.server.strongroom.core.storage);
      const now = clock.now();
      expect(await otherNode.takeOrder(id, now, new Date(now.getTime() + 60_000))).toBe(true);

      expect((await get("held", orderUrl)).json().status).toBe("processing");
      expect(await issuedFor("leased.example.test")).toBe(0);
      clock.advance(LEASE_PASSED_MS);
      expect((await get("held", orderUrl)).json().status).toBe("valid");
      expect(await issuedFor("leased.example.test")).toBe(1);
    }, 60_000);

    it("keeps an order ready when storing its certificate fails, and a second finalize issues one certificate", async () => {
      const { orderUrl, finalizeUrl } = await readyOrder("plain", "retried.example.test");
      const restore = await failInsertsInto(db(), backend.engine, "ca_issued");
      try {
        const failed = await finalize("plain", finalizeUrl, "retried.example.test");
        expect(failed.status, failed.body).toBe(500);
      } finally {
        await restore();
      }
      expect((await get("plain", orderUrl)).json().status).toBe("ready");
      expect(await issuedFor("retried.example.test")).toBe(0);

      const finalized = await finalize("plain", finalizeUrl, "retried.example.test");
      expect(finalized.json().status, finalized.body).toBe("valid");
      expect(await issuedFor("retried.example.test")).toBe(1);
    }, 60_000);

    it("issues one certificate when two finalizes of one order race", async () => {
      const { finalizeUrl } = await readyOrder("plain", "raced.example.test");
      const both = await Promise.all([
        finalize("plain", finalizeUrl, "raced.example.test"),
        finalize("plain", finalizeUrl, "raced.example.test"),
      ]);
      // The loser either signed too and found the order valid, or came after and found it not ready.
      const outcomes = both.map((a) => a.json().type ?? a.json().status).sort();
      expect([
        ["valid", "valid"],
        [`${PROBLEM}orderNotReady`, "valid"],
      ]).toContainEqual(outcomes);
      expect(await issuedFor("raced.example.test")).toBe(1);
    }, 60_000);

    it("makes a held order invalid with a problem naming the expiry once its approval request expires", async () => {
      const { orderUrl, approvalId } = await heldOrder("expired.example.test");
      clock.advance(APPROVAL_EXPIRED_MS);
      const expired = await get("held", orderUrl);
      expect(expired.json().status, expired.body).toBe("invalid");
      expect(expired.json().error.type).toBe(`${PROBLEM}unauthorized`);
      expect(expired.json().error.detail).toMatch(new RegExp(`Approval request ${approvalId} expired at `));
      expect(expired.json().certificate).toBeUndefined();
      await expect(
        acme.server.strongroom.core.approvals.approve(approvalId, "approver-1", "too late"),
      ).rejects.toThrow();
      expect((await get("held", orderUrl)).json().status).toBe("invalid");
      expect(await issuedFor("expired.example.test")).toBe(0);
    }, 60_000);
  },
);
