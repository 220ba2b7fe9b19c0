import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AccountKey,
  type AcmeClient,
  type AcmeResponse,
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
import { pebbleAvailable } from "../support/pebble.js";

const PROBLEM = "urn:ietf:params:acme:error:";
const DAY = 86_400_000;

/** One ACME client with its own account on one directory. */
interface Account {
  client: AcmeClient;
  key: AccountKey;
  kid: string;
  /** The account object as newAccount answered it. */
  // biome-ignore lint/suspicious/noExplicitAny: an ACME account object
  object: any;
}

describe.each(backends.filter((b) => b.available && pebbleAvailable))(
  "ACME orders: listing, authorization reuse, validity and approvals on $engine",
  (backend) => {
    let database: TestDatabase;
    let acme: AcmeServerUnderTest;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    const clients: AcmeClient[] = [];

    async function account(profile: string): Promise<Account> {
      const client = createAcmeClient({
        directoryUrl: acme.directory(profile),
        ca: readFileSync(acme.tlsCaFile, "utf8"),
      });
      clients.push(client);
      const key = await accountKey("ES256");
      const created = await client.post((await client.directory()).newAccount as string, key, {
        termsOfServiceAgreed: true,
      });
      expect(created.status, created.body).toBe(201);
      return { client, key, kid: created.headers.location as string, object: created.json() };
    }

    const order = async (a: Account, names: string[], extra: Record<string, unknown> = {}) =>
      a.client.post(
        (await a.client.directory()).newOrder as string,
        a.key,
        { identifiers: names.map((value) => ({ type: "dns", value })), ...extra },
        { kid: a.kid },
      );
    const get = (a: Account, url: string) => a.client.post(url, a.key, undefined, { kid: a.kid });
    const validate = (a: Account, orderUrl: string) =>
      validateOrder(a.client, responder.answers, orderUrl, a.key, a.kid);
    const finalize = async (a: Account, ready: { finalize: string }, names: string[]) =>
      a.client.post(ready.finalize, a.key, { csr: await csrFor(names) }, { kid: a.kid });
    const expectProblem = (response: AcmeResponse, status: number, type: string) => {
      expect(response.status, response.body).toBe(status);
      expect(response.json().type).toBe(`${PROBLEM}${type}`);
    };
    const orderCount = async () =>
      Number(
        (
          await acme.server.strongroom.core.storage.db
            .selectFrom("acme_server_orders")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );

    beforeAll(async () => {
      database = await backend.createDatabase();
      acme = await startAcmeServer(
        {
          shop: { validityDays: 30 },
          strict: { authzReuse: false },
          eager: { pendingAuthzReuse: true },
          held: {},
          ruled: {},
        },
        { database: database.url },
      );
      responder = await startHttp01Responder(acme.httpPort);
      await acme.server.strongroom.core.rules.set({
        profile: "acme:held",
        kind: "approval",
        value: { approvals: 1 },
      });
      await acme.server.strongroom.core.rules.set({
        profile: "acme:ruled",
        kind: "dns-names",
        value: ["allowed.example.test"],
      });
    }, 60_000);

    afterAll(async () => {
      for (const client of clients) client.close();
      await responder?.close();
      await acme?.stop();
      await database?.drop();
    });

    it("lists an account's orders at its account object's orders URL, a page at a time by Link rel=next", async () => {
      const lister = await account("shop");
      const placed: string[] = [];
      for (let i = 0; i < 101; i++) {
        const response = await order(lister, [`o${i}.list.example.test`]);
        expect(response.status, response.body).toBe(201);
        placed.push(response.headers.location as string);
      }
      expect(lister.object.orders).toBe(`${lister.kid}/orders`);

      const first = await get(lister, lister.object.orders);
      expect(first.status, first.body).toBe(200);
      expect(first.json().orders).toHaveLength(100);
      const links = [first.headers.link]
        .flat()
        .join(", ")
        .split(/,\s*(?=<)/);
      const next = links.map((l) => /^<([^>]+)>;rel="next"$/.exec(l)?.[1]).find(Boolean);
      expect(next).toMatch(/\/orders\?cursor=/);

      const second = await get(lister, next as string);
      expect(second.status, second.body).toBe(200);
      expect([second.headers.link].flat().join()).not.toContain('rel="next"');
      expect([...first.json().orders, ...second.json().orders]).toEqual(placed);
    }, 120_000);

    it("lists an account's orders to that account only, by POST-as-GET", async () => {
      const owner = await account("shop");
      const other = await account("shop");
      await order(owner, ["mine.list.example.test"]);
      expectProblem(await get(other, owner.object.orders), 403, "unauthorized");
      const withPayload = await owner.client.post(owner.object.orders, owner.key, {}, { kid: owner.kid });
      expect(withPayload.json().orders).toHaveLength(1);
      expectProblem(await get(owner, `${owner.object.orders}?cursor=bm90LWEtY3Vyc29y`), 400, "malformed");
    }, 60_000);

    it("reuses the account's valid authorization for a new order, which is ready at once", async () => {
      const shopper = await account("shop");
      const placed = await order(shopper, ["reuse.example.test"]);
      const validated = await validate(shopper, placed.headers.location as string);
      expect(validated.status).toBe("ready");

      const again = await order(shopper, ["reuse.example.test"]);
      expect(again.status, again.body).toBe(201);
      expect(again.json().status).toBe("ready");
      expect(again.json().authorizations).toEqual(validated.authorizations);
      const issued = await finalize(shopper, again.json(), ["reuse.example.test"]);
      expect(issued.json().status, issued.body).toBe("valid");

      // A mixed order: the known name reuses, the new one waits for its own validation.
      const mixed = (await order(shopper, ["reuse.example.test", "fresh.example.test"])).json();
      expect(mixed.status).toBe("pending");
      expect(mixed.authorizations[0]).toBe(validated.authorizations[0]);
      const fresh = (await get(shopper, mixed.authorizations[1])).json();
      expect(fresh.status).toBe("pending");
    }, 60_000);

    it("does not reuse another account's authorization", async () => {
      const first = await account("shop");
      const second = await account("shop");
      const placed = await order(first, ["mine.example.test"]);
      expect((await validate(first, placed.headers.location as string)).status).toBe("ready");
      const theirs = (await order(second, ["mine.example.test"])).json();
      expect(theirs.status).toBe("pending");
      expect(theirs.authorizations).not.toEqual(placed.json().authorizations);
    }, 60_000);

    it("asks for a new validation on a profile with reuse off", async () => {
      const strict = await account("strict");
      const placed = await order(strict, ["strict.example.test"]);
      expect((await validate(strict, placed.headers.location as string)).status).toBe("ready");
      const again = (await order(strict, ["strict.example.test"])).json();
      expect(again.status).toBe("pending");
      expect(again.authorizations).not.toEqual(placed.json().authorizations);
    }, 60_000);

    it("shares a pending authorization between orders where pending reuse is on, one validation readying both", async () => {
      const eager = await account("eager");
      const first = await order(eager, ["eager.example.test"]);
      const second = await order(eager, ["eager.example.test"]);
      expect(second.json().authorizations).toEqual(first.json().authorizations);
      expect((await validate(eager, first.headers.location as string)).status).toBe("ready");
      expect((await get(eager, second.headers.location as string)).json().status).toBe("ready");
    }, 60_000);

    it("issues for exactly the notBefore and notAfter an order asks for within the profile's validity", async () => {
      const shopper = await account("shop");
      const start = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
      const notBefore = new Date(start).toISOString();
      const notAfter = new Date(start + 10 * DAY).toISOString();
      const placed = await order(shopper, ["window.example.test"], { notBefore, notAfter });
      expect(placed.status, placed.body).toBe(201);
      expect(placed.json()).toMatchObject({ notBefore, notAfter });
      const ready = await validate(shopper, placed.headers.location as string);
      const done = await finalize(shopper, ready, ["window.example.test"]);
      expect(done.json().status, done.body).toBe("valid");
      const leaf = new X509Certificate((await get(shopper, done.json().certificate)).body);
      expect(new Date(leaf.validFrom).toISOString()).toBe(notBefore);
      expect(new Date(leaf.validTo).toISOString()).toBe(notAfter);
    }, 60_000);

    it("refuses a validity it would not honour with malformed and stores no order", async () => {
      const shopper = await account("shop");
      const before = await orderCount();
      const now = Date.now();
      const iso = (ms: number) => new Date(ms).toISOString();
      const tooLong = await order(shopper, ["long.example.test"], {
        notBefore: iso(now),
        notAfter: iso(now + 31 * DAY),
      });
      expectProblem(tooLong, 400, "malformed");
      expect(tooLong.json().detail).toContain("at most 30 days");
      expectProblem(
        await order(shopper, ["long.example.test"], { notAfter: iso(now + 45 * DAY) }),
        400,
        "malformed",
      );
      expectProblem(
        await order(shopper, ["long.example.test"], {
          notBefore: iso(now + 2 * DAY),
          notAfter: iso(now + DAY),
        }),
        400,
        "malformed",
      );
      expectProblem(await order(shopper, ["long.example.test"], { notAfter: "tomorrow" }), 400, "malformed");
      expectProblem(
        await order(shopper, ["long.example.test"], { notBefore: iso(now - 3 * DAY) }),
        400,
        "malformed",
      );
      expect(await orderCount()).toBe(before);
    }, 60_000);

    it("refuses an identifier an organisation rule of the directory forbids with rejectedIdentifier, storing no order", async () => {
      const ruled = await account("ruled");
      const before = await orderCount();
      const refused = await order(ruled, ["www.allowed.example.test", "elsewhere.example.test"]);
      expectProblem(refused, 400, "rejectedIdentifier");
      expect(refused.json().detail).toContain("elsewhere.example.test");
      expect(await orderCount()).toBe(before);
      expect((await order(ruled, ["www.allowed.example.test"])).status).toBe(201);
    }, 60_000);

    async function heldOrder(name: string) {
      const requester = await account("held");
      const placed = await order(requester, [name]);
      const ready = await validate(requester, placed.headers.location as string);
      const finalized = await finalize(requester, ready, [name]);
      expect(finalized.status, finalized.body).toBe(200);
      expect(finalized.json().status).toBe("processing");
      expect(Number(finalized.headers["retry-after"])).toBeGreaterThan(0);
      const row = await acme.server.strongroom.core.storage.db
        .selectFrom("acme_server_orders")
        .select(["approval_id", "status"])
        .where("id", "=", String(placed.headers.location).split("/").pop() as string)
        .executeTakeFirstOrThrow();
      const approval = await acme.server.strongroom.core.approvals.get(row.approval_id as string);
      expect(approval).toMatchObject({ entry: "acme-server", state: "pending" });
      expect(approval.requester).toBe(`acme-account:${requester.kid.split("/").pop()}`);
      return { requester, url: placed.headers.location as string, approvalId: approval.id };
    }

    it("keeps a finalize that an approval rule holds processing with Retry-After until approved, then valid", async () => {
      const { requester, url, approvalId } = await heldOrder("held.example.test");
      const waiting = await get(requester, url);
      expect(waiting.json().status).toBe("processing");
      expect(waiting.headers["retry-after"]).toBeDefined();
      expect(waiting.json().certificate).toBeUndefined();

      await acme.server.strongroom.core.approvals.approve(approvalId, "approver-1", "looks right");
      const approved = await get(requester, url);
      expect(approved.json().status, approved.body).toBe("valid");
      const leaf = new X509Certificate((await get(requester, approved.json().certificate)).body);
      expect(leaf.subjectAltName).toBe("DNS:held.example.test");
      expect((await get(requester, url)).json().certificate).toBe(approved.json().certificate);
    }, 60_000);

    it("makes a held order invalid with a problem naming the denier's reason once denied", async () => {
      const { requester, url, approvalId } = await heldOrder("denied.example.test");
      await acme.server.strongroom.core.approvals.deny(approvalId, "approver-1", "not for production");
      const denied = (await get(requester, url)).json();
      expect(denied.status).toBe("invalid");
      expect(denied.error.type).toBe(`${PROBLEM}unauthorized`);
      expect(denied.error.detail).toContain("not for production");
      expect(denied.certificate).toBeUndefined();
    }, 60_000);
  },
);
