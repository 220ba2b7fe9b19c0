import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { Agent } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountKey, createAcmeClient, csrFor } from "../support/acme-client.js";
import { type AcmeServerUnderTest, startAcmeServer } from "../support/acme-server.js";
import { backends, type TestDatabase } from "../support/backends.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { pebbleAvailable } from "../support/pebble.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const postgres = backends.find((b) => b.engine === "postgres");

describe.runIf(postgres?.available && pebbleAvailable)("two ACME server nodes on one PostgreSQL", () => {
  let database: TestDatabase;
  let a: AcmeServerUnderTest;
  let b: InProcess;
  let responder: Server;
  const answers = new Map<string, string>();

  beforeAll(async () => {
    database = await (postgres as NonNullable<typeof postgres>).createDatabase();
    const masterKey = randomBytes(32).toString("base64");
    a = await startAcmeServer({ web: {} }, { database: database.url, masterKey });
    b = await startInProcess({
      database: database.url,
      flags: {
        masterKey,
        jobs: false,
        acmeValidationHttpPort: a.httpPort,
        acmeValidationResolver: a.dns.dnsServer,
      },
    });
    responder = createServer((request, response) => {
      const answer = answers.get((request.url ?? "").split("/").pop() ?? "");
      response.statusCode = answer ? 200 : 404;
      response.end(answer ?? "");
    });
    await new Promise<void>((resolve) => responder.listen(a.httpPort, "127.0.0.1", resolve));
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => responder?.close(() => resolve()));
    await b?.stop();
    await a?.stop();
    await database?.drop();
  });

  it("answers any step of an order on either node, and a nonce is spent on both", async () => {
    // Two nodes of one installation in one process each bootstrap a TLS certificate; which CA signs
    // it is not what this test is about, so it trusts whatever the nodes present.
    const agent = () => new Agent({ rejectUnauthorized: false, keepAlive: true });
    const viaA = createAcmeClient({ directoryUrl: a.directory("web"), agent: agent() });
    const viaB = createAcmeClient({
      directoryUrl: a.directory("web"),
      agent: agent(),
      port: b.strongroom.port,
    });
    const key = await accountKey("ES256");
    const d = await viaA.directory();
    const created = await viaA.post(d.newAccount as string, key, { termsOfServiceAgreed: true });
    const kid = created.headers.location as string;

    // A nonce handed out by A is accepted by B once, then refused by A.
    const nonce = await viaA.nonce();
    const placed = await viaB.post(
      d.newOrder as string,
      key,
      { identifiers: [{ type: "dns", value: "nodes.example.test" }] },
      { kid, nonce },
    );
    expect(placed.status, placed.body).toBe(201);
    const replay = await viaA.post(
      d.newOrder as string,
      key,
      { identifiers: [{ type: "dns", value: "nodes.example.test" }] },
      { kid, nonce },
    );
    expect(replay.status).toBe(400);
    expect(replay.json().type).toBe("urn:ietf:params:acme:error:badNonce");

    const orderUrl = placed.headers.location as string;
    const authz = (await viaA.post(placed.json().authorizations[0], key, undefined, { kid })).json();
    const challenge = authz.challenges.find((c: { type: string }) => c.type === "http-01");
    answers.set(challenge.token, viaA.keyAuthorization(challenge.token, key));
    expect((await viaB.post(challenge.url, key, {}, { kid })).status).toBe(200);
    let order = placed.json();
    for (let round = 0; round < 100 && order.status === "pending"; round++) {
      await sleep(50);
      order = (await viaA.post(orderUrl, key, undefined, { kid })).json();
    }
    expect(order.status).toBe("ready");
    const finalized = await viaB.post(
      order.finalize,
      key,
      { csr: await csrFor(["nodes.example.test"]) },
      { kid },
    );
    expect(finalized.status, finalized.body).toBe(200);
    const chain = await viaA.post(finalized.json().certificate, key, undefined, { kid });
    expect(chain.body).toContain("BEGIN CERTIFICATE");
    viaA.close();
    viaB.close();
  }, 60_000);
});
