import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import type { IssuanceGate } from "../../src/domain/rules/issuance-gate.js";
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
import { pebbleAvailable } from "../support/pebble.js";

const PROBLEM = "urn:ietf:params:acme:error:";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Refuses names under forbidden.test, as an organisation rule would. */
const gate: IssuanceGate = {
  async check(_entry, _scope, facts) {
    const bad = facts.sans.find((san) => san.value.endsWith(".forbidden.test"));
    if (bad)
      throw new DomainError("BadParameter", `Rule no-forbidden: ${bad.value} may not be certified`, {
        reason: "PolicyViolation",
      });
  },
};

const ACME_TABLES = [
  "acme_server_accounts",
  "acme_server_orders",
  "acme_server_authzs",
  "acme_server_challenges",
  "acme_server_eab_keys",
  "ca_issued",
] as const;

describe.each(backends.filter((b) => b.available && pebbleAvailable))(
  "the ACME server's protocol on $engine",
  (backend) => {
    let database: TestDatabase;
    let acme: AcmeServerUnderTest;
    let client: AcmeClient;
    let key: AccountKey;
    let kid: string;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;

    const dir = () => client.directory();

    async function newAccount(
      k: AccountKey,
      payload: Record<string, unknown> = { termsOfServiceAgreed: true },
    ) {
      return client.post((await dir()).newAccount as string, k, payload);
    }

    async function order(names: string[], k = key, accountKid = kid) {
      return client.post(
        (await dir()).newOrder as string,
        k,
        { identifiers: names.map((value) => ({ type: /^[\d.]+$/.test(value) ? "ip" : "dns", value })) },
        { kid: accountKid },
      );
    }

    /** An order for `name` and the http-01 challenge of its authorization. */
    async function http01Of(name: string) {
      const placed = await order([name]);
      const authz = (await client.post(placed.json().authorizations[0], key, undefined, { kid })).json();
      const challenge = authz.challenges.find((c: { type: string }) => c.type === "http-01");
      return { placed, challenge };
    }

    /** Answers each authorization's http-01 challenge and waits until the order is ready. */
    const validate = (orderUrl: string, k = key, accountKid = kid) =>
      validateOrder(client, responder.answers, orderUrl, k, accountKid);

    const counts = async () => {
      const db = acme.server.strongroom.core.storage.db;
      const out: Record<string, number> = {};
      for (const table of ACME_TABLES)
        out[table] = Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<number>().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return out;
    };

    const expectProblem = (response: { status: number; body: string }, status: number, type: string) => {
      expect(response.status, response.body).toBe(status);
      expect(response.body).toContain(`"type":"${PROBLEM}${type}"`);
    };

    beforeAll(async () => {
      database = await backend.createDatabase();
      acme = await startAcmeServer(
        {
          web: { validityDays: 30 },
          partners: { eabRequired: true },
          limited: { ordersPerAccountPerHour: 2, ordersPerIdentifierPerHour: 3 },
        },
        { database: database.url, gate },
      );
      responder = await startHttp01Responder(acme.httpPort);
      client = createAcmeClient({
        directoryUrl: acme.directory("web"),
        ca: acme.server.strongroom.admin.caFile && readFileSync(acme.tlsCaFile, "utf8"),
      });
      key = await accountKey("ES256");
      const created = await newAccount(key, {
        contact: ["mailto:ops@example.test"],
        termsOfServiceAgreed: true,
      });
      expect(created.status, created.body).toBe(201);
      kid = created.headers.location as string;
    }, 60_000);

    afterAll(async () => {
      client?.close();
      await responder?.close();
      await acme?.stop();
      await database?.drop();
    });

    it("issues a certificate for an order validated by http-01 into the CA records and the inventory, with the account as the audit actor", async () => {
      const placed = await order(["flow.example.test", "127.0.0.1"]);
      expect(placed.status, placed.body).toBe(201);
      const ready = await validate(placed.headers.location as string);
      expect(ready.status).toBe("ready");
      const finalized = await client.post(
        ready.finalize,
        key,
        { csr: await csrFor(["flow.example.test", "127.0.0.1"]) },
        { kid },
      );
      expect(finalized.status, finalized.body).toBe(200);
      expect(finalized.json().status).toBe("valid");
      const chain = await client.post(finalized.json().certificate, key, undefined, { kid });
      expect(chain.headers["content-type"]).toContain("application/pem-certificate-chain");
      const leaf = new X509Certificate(chain.body);
      expect(leaf.subjectAltName).toContain("DNS:flow.example.test");
      expect(leaf.subjectAltName).toContain("IP Address:127.0.0.1");
      const issued = await acme.server.strongroom.core.ca.findIssued(leaf.serialNumber);
      expect(issued.status).toBe("good");
      await acme.server.strongroom.scheduler.runOnce("inventory");
      const record = await acme.server.strongroom.core.inventory.show(
        createHash("sha256").update(leaf.raw).digest("hex"),
      );
      expect(record.locations.map((l) => l.uri)).toContain(`ca://acme-root/${issued.serial}`);

      await acme.server.strongroom.core.audit.drain();
      const rows = await acme.server.strongroom.core.storage.audit.db
        .selectFrom("audit_log")
        .select(["principal_id", "operation", "outcome"])
        .where("operation", "in", ["AcmeFinalize", "AcmeChallenge"])
        .execute();
      const accountId = kid.split("/").pop();
      // The validations finished within their challenge requests: the outcome committed with its
      // intent row under the account, and no job had to record it.
      expect(rows).toContainEqual({
        principal_id: `acme-account:${accountId}`,
        operation: "AcmeChallenge",
        outcome: "pending",
      });
      expect(rows).toContainEqual({
        principal_id: `acme-account:${accountId}`,
        operation: "AcmeFinalize",
        outcome: "success",
      });
      expect(rows).toContainEqual({
        principal_id: `acme-account:${accountId}`,
        operation: "AcmeFinalize",
        outcome: "pending",
      });
    }, 60_000);

    it("refuses each bad request with its problem document and writes nothing", async () => {
      const before = await counts();
      const other = await accountKey("ES384");
      const d = await dir();

      const first = await order(["replay.example.test"]);
      const afterOrder = await counts();
      const replayed = await client.post(
        d.newOrder as string,
        key,
        { identifiers: [{ type: "dns", value: "x.example.test" }] },
        { kid, nonce: first.nonce },
      );
      expectProblem(replayed, 400, "badNonce");

      const forged = await client.post(
        d.newOrder as string,
        other,
        { identifiers: [{ type: "dns", value: "x.example.test" }] },
        { kid },
      );
      expectProblem(forged, 400, "malformed");
      expect(forged.json().detail).toContain("does not verify");

      const early = await client.post(
        first.json().finalize,
        key,
        { csr: await csrFor(["replay.example.test"]) },
        { kid },
      );
      expectProblem(early, 403, "orderNotReady");

      const ruled = await order(["www.forbidden.test"]);
      expectProblem(ruled, 400, "rejectedIdentifier");
      expect(ruled.json().detail).toContain("no-forbidden");

      expectProblem(await order(["not a name"]), 400, "rejectedIdentifier");
      expectProblem(
        await client.post(
          d.newOrder as string,
          key,
          { identifiers: [{ type: "email", value: "a@example.test" }] },
          { kid },
        ),
        400,
        "unsupportedIdentifier",
      );
      expectProblem(await client.postRaw(d.newOrder as string, "{not json"), 400, "malformed");
      expectProblem(
        await client.postRaw(
          d.newOrder as string,
          JSON.stringify({ protected: "e30", payload: "", signature: "" }),
        ),
        400,
        "badSignatureAlgorithm",
      );
      expectProblem(
        await client.post(`${kid}x`, key, undefined, { kid: `${kid}x` }),
        400,
        "accountDoesNotExist",
      );
      expectProblem(
        await client.post(d.newOrder as string, key, { identifiers: [] }, { kid }),
        400,
        "malformed",
      );

      const partners = createAcmeClient({
        directoryUrl: acme.directory("partners"),
        ca: readFileSync(acme.tlsCaFile, "utf8"),
      });
      const refused = await partners.post((await partners.directory()).newAccount as string, other, {
        termsOfServiceAgreed: true,
      });
      partners.close();
      expectProblem(refused, 403, "externalAccountRequired");

      expect(await counts()).toEqual(afterOrder);
      expect(afterOrder.acme_server_orders).toBe((before.acme_server_orders ?? 0) + 1);
    }, 60_000);

    it("refuses a CSR for names not in the order with badCSR and keeps the order ready", async () => {
      const placed = await order(["csr.example.test"]);
      const ready = await validate(placed.headers.location as string);
      const wrong = await client.post(
        ready.finalize,
        key,
        { csr: await csrFor(["csr.example.test", "other.example.test"]) },
        { kid },
      );
      expectProblem(wrong, 400, "badCSR");
      expect(wrong.json().detail).toContain("other.example.test");
      const garbage = await client.post(ready.finalize, key, { csr: "AAAA" }, { kid });
      expectProblem(garbage, 400, "badCSR");
      const still = (await client.post(placed.headers.location as string, key, undefined, { kid })).json();
      expect(still.status).toBe("ready");
    }, 60_000);

    it("answers a challenge with its validation done when the client's responder answers quickly, the order ready at once", async () => {
      const { placed, challenge } = await http01Of("quick.example.test");
      responder.answers.set(challenge.token, client.keyAuthorization(challenge.token, key));
      const answered = await client.post(challenge.url, key, {}, { kid });
      expect(answered.status, answered.body).toBe(200);
      expect(answered.json()).toMatchObject({ status: "valid", validated: expect.any(String) });
      // No poll needed: the order was ready when the challenge's answer left.
      expect(
        (await client.post(placed.headers.location as string, key, undefined, { kid })).json(),
      ).toMatchObject({
        status: "ready",
      });
    }, 60_000);

    it("answers processing when validation outlasts the challenge request, and records the outcome when it comes", async () => {
      const { placed, challenge } = await http01Of("slow.example.test");
      responder.answers.set(challenge.token, client.keyAuthorization(challenge.token, key));
      responder.delays.set(challenge.token, 1_500);
      const answered = await client.post(challenge.url, key, {}, { kid });
      expect(answered.json().status).toBe("processing");
      const again = await client.post(challenge.url, key, {}, { kid });
      expect(again.json().status).toBe("processing");
      let current = placed.json();
      for (let round = 0; round < 100 && current.status === "pending"; round++) {
        await sleep(50);
        current = (await client.post(placed.headers.location as string, key, undefined, { kid })).json();
      }
      expect(current.status).toBe("ready");
      const validated = (await client.post(challenge.url, key, undefined, { kid })).json();
      expect(validated.status).toBe("valid");
    }, 60_000);

    it("validates a challenge once when the client posts it several times at once", async () => {
      const { challenge } = await http01Of("twice.example.test");
      responder.answers.set(challenge.token, client.keyAuthorization(challenge.token, key));
      responder.delays.set(challenge.token, 300);
      const answers = await Promise.all(
        [1, 2, 3].map(async () => (await client.post(challenge.url, key, {}, { kid })).json()),
      );
      expect(answers.map((a) => a.status)).toEqual(["valid", "valid", "valid"]);
      expect(responder.hits.get(challenge.token)).toBe(1);
    }, 60_000);

    it("marks the authorization and order invalid when the client does not serve the key authorization", async () => {
      const { placed, challenge } = await http01Of("absent.example.test");
      const answered = (await client.post(challenge.url, key, {}, { kid })).json();
      expect(answered.status).toBe("invalid");
      expect(answered.error.type).toBe(`${PROBLEM}unauthorized`);
      let current = placed.json();
      for (let round = 0; round < 100 && current.status === "pending"; round++) {
        await sleep(50);
        current = (await client.post(placed.headers.location as string, key, undefined, { kid })).json();
      }
      expect(current.status).toBe("invalid");
      const failed = (await client.post(placed.json().authorizations[0], key, undefined, { kid })).json();
      expect(failed.status).toBe("invalid");
      expect(failed.challenges.find((c: { type: string }) => c.type === "http-01").error.type).toBe(
        `${PROBLEM}unauthorized`,
      );
    }, 60_000);

    it("offers only dns-01 for a wildcard and no dns-01 for an IP address", async () => {
      const placed = await order(["*.wild.example.test", "127.0.0.2"]);
      const [wild, ip] = await Promise.all(
        (placed.json().authorizations as string[]).map(async (url) =>
          (await client.post(url, key, undefined, { kid })).json(),
        ),
      );
      expect(wild.wildcard).toBe(true);
      expect(wild.identifier).toEqual({ type: "dns", value: "wild.example.test" });
      expect(wild.challenges.map((c: { type: string }) => c.type)).toEqual(["dns-01"]);
      expect(ip.challenges.map((c: { type: string }) => c.type).sort()).toEqual(["http-01", "tls-alpn-01"]);
    });

    it("finds an account with onlyReturnExisting, updates contacts, rolls its key over and deactivates it", async () => {
      const k = await accountKey("EdDSA");
      expectProblem(await newAccount(k, { onlyReturnExisting: true }), 400, "accountDoesNotExist");
      const created = await newAccount(k);
      expect(created.status).toBe(201);
      const url = created.headers.location as string;
      const again = await newAccount(k, { onlyReturnExisting: true });
      expect(again.status).toBe(200);
      expect(again.headers.location).toBe(url);
      expectProblem(await client.post(url, k, { contact: ["tel:123"] }, { kid: url }), 400, "invalidContact");
      const updated = await client.post(url, k, { contact: ["mailto:new@example.test"] }, { kid: url });
      expect(updated.json().contact).toEqual(["mailto:new@example.test"]);

      const next = await accountKey("RS256");
      const d = await dir();
      const inner = await client.sign(
        next,
        { jwk: next.jwk, url: d.keyChange },
        { account: url, oldKey: k.jwk },
      );
      const rolled = await client.post(d.keyChange as string, k, inner, { kid: url });
      expect(rolled.status, rolled.body).toBe(200);
      expectProblem(await client.post(url, k, undefined, { kid: url }), 400, "malformed");
      expect((await client.post(url, next, undefined, { kid: url })).status).toBe(200);

      const taken = await client.sign(
        key,
        { jwk: key.jwk, url: d.keyChange },
        { account: url, oldKey: next.jwk },
      );
      expectProblem(await client.post(d.keyChange as string, next, taken, { kid: url }), 409, "malformed");

      const gone = await client.post(url, next, { status: "deactivated" }, { kid: url });
      expect(gone.json().status).toBe("deactivated");
      expectProblem(await order(["late.example.test"], next, url), 403, "unauthorized");
    }, 60_000);

    it("revokes by the certificate's own key and answers renewal info from the profile's window", async () => {
      const placed = await order(["revoke.example.test"]);
      const ready = await validate(placed.headers.location as string);
      const { webcrypto, KeyObject } = await import("node:crypto");
      const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
      const pair = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
      const x509 = await import("@peculiar/x509");
      x509.cryptoProvider.set(webcrypto as unknown as Crypto);
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: "CN=revoke.example.test",
        keys: pair,
        signingAlgorithm: alg,
        extensions: [
          new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "revoke.example.test" }]),
        ],
      });
      const done = await client.post(
        ready.finalize,
        key,
        { csr: Buffer.from(csr.rawData).toString("base64url") },
        { kid },
      );
      const pem = (await client.post(done.json().certificate, key, undefined, { kid })).body;
      const leaf = new x509.X509Certificate(pem.split(/(?=-----BEGIN)/)[0] as string);
      const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId as string;
      const certId = `${Buffer.from(aki, "hex").toString("base64url")}.${Buffer.from(leaf.serialNumber, "hex").toString("base64url")}`;
      const info = await client.get(`${(await dir()).renewalInfo}/${certId}`);
      expect(info.status, info.body).toBe(200);
      const window = info.json().suggestedWindow;
      const life = leaf.notAfter.getTime() - leaf.notBefore.getTime();
      // The stored validity keeps milliseconds that the certificate's seconds drop.
      const expected = leaf.notBefore.getTime() + (life * 67) / 100;
      expect(Math.abs(new Date(window.start).getTime() - expected)).toBeLessThan(2000);
      expect(new Date(window.end).getTime()).toBeGreaterThan(new Date(window.start).getTime());
      expect(info.headers["retry-after"]).toBeDefined();

      const certKey = {
        privateKey: KeyObject.from(pair.privateKey),
        jwk: await (await import("jose")).exportJWK(pair.publicKey),
        alg: "ES256",
        thumbprint: "",
      };
      const stranger = await accountKey("ES256");
      const der = Buffer.from(leaf.rawData).toString("base64url");
      const d = await dir();
      expectProblem(
        await client.post(d.revokeCert as string, stranger, { certificate: der }),
        403,
        "unauthorized",
      );
      expectProblem(
        await client.post(d.revokeCert as string, certKey, { certificate: der, reason: 7 }),
        400,
        "badRevocationReason",
      );
      const revoked = await client.post(d.revokeCert as string, certKey, { certificate: der, reason: 1 });
      expect(revoked.status, revoked.body).toBe(200);
      expect((await acme.server.strongroom.core.ca.findIssued(leaf.serialNumber)).reason).toBe(
        "keyCompromise",
      );
      expectProblem(
        await client.post(d.revokeCert as string, key, { certificate: der }, { kid }),
        400,
        "alreadyRevoked",
      );
    }, 60_000);

    it("limits orders per account and per identifier with rateLimited (429)", async () => {
      const limited = createAcmeClient({
        directoryUrl: acme.directory("limited"),
        ca: readFileSync(acme.tlsCaFile, "utf8"),
      });
      const d = await limited.directory();
      const orderAs = async (k: AccountKey, accountKid: string, value: string) =>
        limited.post(d.newOrder as string, k, { identifiers: [{ type: "dns", value }] }, { kid: accountKid });
      const register = async () => {
        const k = await accountKey("ES256");
        const created = await limited.post(d.newAccount as string, k, { termsOfServiceAgreed: true });
        return { k, accountKid: created.headers.location as string };
      };
      const first = await register();
      expect((await orderAs(first.k, first.accountKid, "a.limit.test")).status).toBe(201);
      expect((await orderAs(first.k, first.accountKid, "b.limit.test")).status).toBe(201);
      const third = await orderAs(first.k, first.accountKid, "c.limit.test");
      expectProblem(third, 429, "rateLimited");
      expect(third.json().detail).toContain("orders in the last hour");

      const second = await register();
      expect((await orderAs(second.k, second.accountKid, "a.limit.test")).status).toBe(201);
      const third2 = await register();
      expect((await orderAs(third2.k, third2.accountKid, "a.limit.test")).status).toBe(201);
      expectProblem(await orderAs(third2.k, third2.accountKid, "a.limit.test"), 429, "rateLimited");
      limited.close();
    });

    it("names the profile and EAB requirement in the directory meta and 404s an unknown directory", async () => {
      const d = await dir();
      expect(d.meta).toMatchObject({ externalAccountRequired: false, profiles: { web: expect.any(String) } });
      const missing = await client.get(acme.directory("nope"));
      expect(missing.status).toBe(404);
      expect(missing.headers["content-type"]).toContain("application/problem+json");
    });
  },
);
