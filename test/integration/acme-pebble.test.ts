import { execFileSync } from "node:child_process";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlEventStore } from "../../src/storage/sql-event-store.js";
import { backends, dumpAllRows, type TestDatabase } from "../support/backends.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { freePort, type Pebble, pebbleAvailable, startPebble } from "../support/pebble.js";
import { postgresAvailable } from "../support/postgres.js";

const V = "api-version=7.6";
const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backends.filter((b) => b.available && pebbleAvailable))(
  "certificates from an ACME CA (pebble) on $engine",
  (backend) => {
    const clock = fakeClock(new Date());
    const work = mkdtempSync(join(tmpdir(), "strongroom-acme-test-"));
    let database: TestDatabase;
    let pebble: Pebble;
    let server: InProcess;

    const kv = (...args: Parameters<InProcess["kv"]>) => server.kv(...args);
    const setIssuer = (name: string, hmacKey: string) =>
      kv({
        method: "PUT",
        url: `/certificates/issuers/${name}?${V}`,
        body: { provider: "ACME", credentials: { account_id: pebble.eab.keyId, pwd: hmacKey } },
      });
    const setAcme = (issuer: string, body: Record<string, unknown>) =>
      kv({
        method: "PUT",
        url: `/admin/vaults/default/acme-issuers/${issuer}`,
        body: { directoryUrl: pebble.directoryUrl, contacts: ["ops@example.com"], ...body },
      });
    const create = (name: string, issuer: string, names: string[], extra: Record<string, unknown> = {}) =>
      kv({
        method: "POST",
        url: `/certificates/${name}/create?${V}`,
        body: {
          policy: {
            issuer: { name: issuer },
            key_props: { kty: "EC", exportable: true },
            x509_props: { subject: `CN=${names[0]}`, sans: { dns_names: names } },
            ...extra,
          },
        },
      });
    const pending = async (name: string) =>
      (await kv({ method: "GET", url: `/certificates/${name}/pending?${V}` })).json();
    /** Runs the pending-issuance job until the operation leaves inProgress, as the scheduler would. */
    const settle = async (name: string) => {
      for (let round = 0; round < 60; round++) {
        await server.strongroom.scheduler.runOnce("pending-issuance");
        const operation = await pending(name);
        if (operation.status !== "inProgress") return operation;
        await sleep(250);
      }
      throw new Error(`${name} is still in progress: ${JSON.stringify(await pending(name))}`);
    };
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: work, encoding: "utf8" });
    const verifyChain = async (certificate: { cer: string }, chain: Buffer[]) => {
      writeFileSync(join(work, "root.pem"), await pebble.root());
      writeFileSync(join(work, "chain.pem"), chain.map(pem).join(""));
      writeFileSync(join(work, "leaf.pem"), pem(Buffer.from(certificate.cer, "base64")));
      return openssl("verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "leaf.pem");
    };
    const table = (name: "acme_challenges" | "acme_orders" | "acme_accounts") =>
      server.strongroom.core.storage.db.selectFrom(name).selectAll().execute();

    beforeAll(async () => {
      database = await backend.createDatabase();
      const acmeHttpPort = await freePort();
      pebble = await startPebble({ httpPort: acmeHttpPort });
      server = await startInProcess({
        clock,
        database: database.url,
        flags: { acmeHttpPort, acmeCaFile: pebble.tlsCaFile, jobs: false },
      });
      expect((await setIssuer("pebble", pebble.eab.hmacKey)).statusCode).toBe(200);
      expect((await setAcme("pebble", {})).statusCode).toBe(200);
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await pebble?.stop();
      await database?.drop();
      rmSync(work, { recursive: true, force: true });
    });

    it("issues through an EAB account, answering http-01 from its own challenge responder", async () => {
      const created = await create("site", "pebble", ["site.test", "www.site.test"]);
      expect(created.statusCode).toBe(202);
      expect(created.json().status).toBe("inProgress");
      expect(created.json().status_details).toMatch(
        /^Order placed with 127\.0\.0\.1:\d+ for site\.test, www\.site\.test$/,
      );
      await server.strongroom.scheduler.runOnce("pending-issuance");
      const waiting = (await pending("site")).status_details as string;
      expect(waiting).toMatch(/^Waiting for 127\.0\.0\.1:\d+ to validate /);
      expect(waiting.split(" validate ")[1]?.split(", ").sort()).toEqual(["site.test", "www.site.test"]);

      const operation = await settle("site");
      expect(operation.status).toBe("completed");
      const certificate = (await kv({ method: "GET", url: `/certificates/site?${V}` })).json();
      const leaf = new X509Certificate(Buffer.from(certificate.cer, "base64"));
      expect(leaf.subjectAltName).toBe("DNS:site.test, DNS:www.site.test");
      expect(leaf.issuer).toMatch(/Pebble Intermediate CA/);

      // The chain the CA sent is stored with the leaf and reaches pebble's root.
      const secret = (await kv({ method: "GET", url: `/secrets/site?${V}` })).json();
      const pkcs12 = Buffer.from(secret.value, "base64");
      writeFileSync(join(work, "site.pfx"), pkcs12);
      const bundle = openssl("pkcs12", "-in", "site.pfx", "-passin", "pass:", "-nokeys");
      const certificates = [
        ...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g),
      ];
      expect(certificates.length).toBeGreaterThanOrEqual(2);
      const chain = certificates
        .map((m) => new X509Certificate(m[0]))
        .filter((c) => c.fingerprint256 !== leaf.fingerprint256)
        .map((c) => c.raw);
      expect(await verifyChain(certificate, chain)).toMatch(/leaf\.pem: OK/);

      // Challenges and the order are gone once the order is done; the account key is stored sealed.
      expect(await table("acme_challenges")).toEqual([]);
      expect(await table("acme_orders")).toEqual([]);
      const [account] = await table("acme_accounts");
      expect(account?.account_url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
      expect(() =>
        createPrivateKey({ key: Buffer.from(account?.sealed_key as Buffer), format: "der", type: "pkcs8" }),
      ).toThrow();
      // Every P-256 PKCS#8 key starts with these bytes; neither it nor the EAB HMAC key is anywhere at rest.
      const rows = await dumpAllRows(server.strongroom.core.storage);
      expect(rows).not.toContain("308187020100301306072a8648ce3d020106082a8648ce3d030107");
      expect(rows).not.toContain(pebble.eab.hmacKey);
      expect(rows).not.toContain(Buffer.from(pebble.eab.hmacKey).toString("hex"));
    });

    it("fails the operation with the CA's problem when the EAB HMAC key is wrong", async () => {
      expect((await setIssuer("wrongmac", Buffer.alloc(32, 7).toString("base64url"))).statusCode).toBe(200);
      expect((await setAcme("wrongmac", {})).statusCode).toBe(200);
      const created = await create("wrongmac-site", "wrongmac", ["wrong.test"]);
      expect(created.statusCode).toBe(202);
      const operation = created.json();
      expect(operation.status).toBe("failed");
      expect(operation.error.code).toMatch(/^Acme[A-Z]/);
      expect(operation.error.message).toMatch(/binding|MAC|HMAC|signature/i);
    });

    it("fails the operation with the validation error when nobody answers the challenge", async () => {
      // A webroot no web server serves: pebble reaches our responder, which knows no such token.
      expect((await setIssuer("webroot", pebble.eab.hmacKey)).statusCode).toBe(200);
      expect(
        (await setAcme("webroot", { solver: "webroot", webroot: join(work, "unserved") })).statusCode,
      ).toBe(200);
      expect((await create("unserved", "webroot", ["unserved.test"])).json().status).toBe("inProgress");
      const operation = await settle("unserved");
      expect(operation.status).toBe("failed");
      expect(operation.error.code).toBe("AcmeUnauthorized");
      expect(operation.error.message).toMatch(/404/);
    });

    it("issues with dns-01 through a hook command that sets the TXT record", async () => {
      const hook = join(work, "dns-hook.sh");
      writeFileSync(
        hook,
        `#!/bin/sh
set -e
case "$1" in
  present) curl -sf -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${pebble.challtestsrvUrl}/set-txt ;;
  cleanup) curl -sf -d "{\\"host\\":\\"$2\\"}" ${pebble.challtestsrvUrl}/clear-txt ;;
esac
echo "$1 $2" >> ${join(work, "dns-hook.log")}
`,
      );
      chmodSync(hook, 0o755);
      expect((await setIssuer("dnshook", pebble.eab.hmacKey)).statusCode).toBe(200);
      expect(
        (await setAcme("dnshook", { challenge: "dns-01", solver: "hook", command: hook })).statusCode,
      ).toBe(200);
      expect((await create("dns", "dnshook", ["dns.test"])).json().status).toBe("inProgress");
      expect((await settle("dns")).status).toBe("completed");
      expect(execFileSync("cat", [join(work, "dns-hook.log")], { encoding: "utf8" })).toMatch(
        /present _acme-challenge\.dns\.test\.\ncleanup _acme-challenge\.dns\.test\./,
      );
    });

    it("fails the operation with the hook's own message when the hook fails", async () => {
      expect((await setIssuer("badhook", pebble.eab.hmacKey)).statusCode).toBe(200);
      const command = "echo 'no API token for the DNS provider' >&2; exit 3; :";
      expect((await setAcme("badhook", { challenge: "dns-01", solver: "hook", command })).statusCode).toBe(
        200,
      );
      expect((await create("badhook-site", "badhook", ["badhook.test"])).json().status).toBe("inProgress");
      const operation = await settle("badhook-site");
      expect(operation.status).toBe("failed");
      expect(operation.error.code).toBe("AcmeChallengeSolverFailed");
      expect(operation.error.message).toMatch(
        /dns-01 hook solver could not present the challenge for badhook\.test: .*no API token for the DNS provider/,
      );
    });

    it("takes down the challenges of an operation cancelled while the CA validates", async () => {
      expect((await create("cancelled", "pebble", ["cancelled.test"])).json().status).toBe("inProgress");
      await server.strongroom.scheduler.runOnce("pending-issuance");
      expect(await table("acme_challenges")).toHaveLength(1);
      const cancel = await kv({
        method: "PATCH",
        url: `/certificates/cancelled/pending?${V}`,
        body: { cancellation_requested: true },
      });
      expect(cancel.json().status).toBe("cancelled");
      // Orders younger than a minute may still be waiting for their operation to be stored.
      clock.advance(61_000);
      expect(await server.strongroom.scheduler.runOnce("acme-upkeep")).toMatch(/abandoned orders cleaned 1$/);
      expect(await table("acme_challenges")).toEqual([]);
      expect(await table("acme_orders")).toEqual([]);
    });

    it("keeps an order pending while the CA is unreachable, and fails it after a day", async () => {
      expect((await setIssuer("flaky", pebble.eab.hmacKey)).statusCode).toBe(200);
      expect((await setAcme("flaky", {})).statusCode).toBe(200);
      expect((await create("flaky-site", "flaky", ["flaky.test"])).json().status).toBe("inProgress");
      // The CA moves away after the order was placed: nothing answers at the new address.
      expect(
        (await setAcme("flaky", { directoryUrl: `https://127.0.0.1:${await freePort()}/dir` })).statusCode,
      ).toBe(200);
      await server.strongroom.scheduler.runOnce("pending-issuance");
      const waiting = await pending("flaky-site");
      expect(waiting.status).toBe("inProgress");
      expect(waiting.status_details).toMatch(
        /^Waiting to reach the ACME CA at https:\/\/127\.0\.0\.1:\d+\/dir: .*ECONNREFUSED/,
      );
      clock.advance(24 * 3_600_000 + 60_000);
      await server.strongroom.scheduler.runOnce("pending-issuance");
      const operation = await pending("flaky-site");
      expect(operation.status).toBe("failed");
      expect(operation.error.code).toBe("AcmeUnreachable");
    });

    it("issues with dns-01 through a webhook", async () => {
      const calls: { action: string; recordName: string; value: string }[] = [];
      // The DNS provider's automation endpoint: here it writes the record into pebble's DNS server.
      const provider: Server = createServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => {
          body += chunk;
        });
        request.on("end", async () => {
          const call = JSON.parse(body) as { action: string; recordName: string; value: string };
          calls.push(call);
          const path = call.action === "present" ? "set-txt" : "clear-txt";
          await fetch(`${pebble.challtestsrvUrl}/${path}`, {
            method: "POST",
            body: JSON.stringify({ host: call.recordName, value: call.value }),
          });
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
      const address = provider.address();
      const port = typeof address === "object" && address ? address.port : 0;
      try {
        expect((await setIssuer("dnswebhook", pebble.eab.hmacKey)).statusCode).toBe(200);
        expect(
          (
            await setAcme("dnswebhook", {
              challenge: "dns-01",
              solver: "webhook",
              webhookUrl: `http://127.0.0.1:${port}/acme-dns`,
            })
          ).statusCode,
        ).toBe(200);
        expect((await create("hooked", "dnswebhook", ["hooked.test"])).json().status).toBe("inProgress");
        expect((await settle("hooked")).status).toBe("completed");
        expect(calls.map((c) => `${c.action} ${c.recordName}`)).toEqual([
          "present _acme-challenge.hooked.test.",
          "cleanup _acme-challenge.hooked.test.",
        ]);
        expect(calls[0]?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      } finally {
        await new Promise((resolve) => provider.close(resolve));
      }
    });

    it("renews an ACME certificate through the scheduler's AutoRenew when the fake clock reaches it", async () => {
      const created = await create("renewing", "pebble", ["renewing.test"], {
        lifetime_actions: [{ trigger: { lifetime_percentage: 50 }, action: { action_type: "AutoRenew" } }],
      });
      expect(created.statusCode).toBe(202);
      expect((await settle("renewing")).status).toBe("completed");
      const first = (await kv({ method: "GET", url: `/certificates/renewing?${V}` })).json();

      await server.strongroom.scheduler.runOnce("renewals");
      expect((await pending("renewing")).status).toBe("completed");

      const lifetimeMs = (first.attributes.exp - first.attributes.nbf) * 1000;
      clock.advance(lifetimeMs / 2 + 86_400_000);
      expect(await server.strongroom.scheduler.runOnce("renewals")).toMatch(/renewed 1/);
      expect((await pending("renewing")).status).toBe("inProgress");
      expect((await settle("renewing")).status).toBe("completed");

      const versions = (await kv({ method: "GET", url: `/certificates/renewing/versions?${V}` })).json()
        .value;
      expect(versions).toHaveLength(2);
      const second = (await kv({ method: "GET", url: `/certificates/renewing?${V}` })).json();
      expect(second.id).not.toBe(first.id);
      const [a, b] = [first, second].map((c) => new X509Certificate(Buffer.from(c.cer, "base64")));
      expect(b?.serialNumber).not.toBe(a?.serialNumber);
      expect(b?.subjectAltName).toBe("DNS:renewing.test");
    });

    it("raises CertificateRenewalFailed when the CA refuses a renewal later, and retries it", async () => {
      expect((await setIssuer("renewfail", pebble.eab.hmacKey)).statusCode).toBe(200);
      expect((await setAcme("renewfail", {})).statusCode).toBe(200);
      await create("refused", "renewfail", ["refused.test"], {
        lifetime_actions: [{ trigger: { lifetime_percentage: 50 }, action: { action_type: "AutoRenew" } }],
      });
      expect((await settle("refused")).status).toBe("completed");
      const first = (await kv({ method: "GET", url: `/certificates/refused?${V}` })).json();
      const due = (first.attributes.nbf + (first.attributes.exp - first.attributes.nbf) / 2) * 1000;
      clock.advance(Math.max(0, due + 86_400_000 - clock.now().getTime()));

      // Nobody answers the next validation: the webroot is not served. The renewal also asks for a
      // name never validated, because pebble reuses a valid authorization 1 time in 100 even when
      // told never to (wfe.go: `rand.Intn(100) > authzReusePercent`).
      const policy = await kv({
        method: "PATCH",
        url: `/certificates/refused/policy?${V}`,
        body: {
          x509_props: {
            subject: "CN=refused.test",
            sans: { dns_names: ["refused.test", "again.refused.test"] },
          },
        },
      });
      expect(policy.statusCode).toBe(200);
      await setAcme("renewfail", { solver: "webroot", webroot: join(work, "unserved") });
      await server.strongroom.scheduler.runOnce("renewals");
      expect((await pending("refused")).status).toBe("inProgress");
      expect((await settle("refused")).status).toBe("failed");
      // Looked at again once the claim goes stale: the operation's failure is the renewal's.
      clock.advance(11 * 60_000);
      expect(await server.strongroom.scheduler.runOnce("renewals")).toMatch(/failed [1-9]/);
      const events = await createSqlEventStore(server.strongroom.core.storage).after(0, 10_000);
      const failure = events.find((e) => e.type === "CertificateRenewalFailed" && e.objectName === "refused");
      expect(failure?.detail).toMatch(/404/);

      // The retry after the backoff makes a new order, which the responder answers.
      await setAcme("renewfail", {});
      clock.advance(20 * 60_000);
      await server.strongroom.scheduler.runOnce("renewals");
      expect((await pending("refused")).status).toBe("inProgress");
      expect((await settle("refused")).status).toBe("completed");
      const versions = (await kv({ method: "GET", url: `/certificates/refused/versions?${V}` })).json().value;
      expect(versions).toHaveLength(2);
    });

    if (backend.engine === "sqlite") {
      it("completes beginCreateCertificate's pollUntilDone with the official SDK while the scheduler runs", async () => {
        server.strongroom.scheduler.start();
        try {
          const { admin } = server.strongroom;
          const ca = execFileSync("cat", [admin.caFile as string], { encoding: "utf8" });
          const credential = new ClientSecretCredential(admin.tenantId, admin.clientId, admin.clientSecret, {
            authorityHost: admin.authorityHost,
            disableInstanceDiscovery: true,
            tlsOptions: { ca },
          });
          const client = new CertificateClient(admin.vaultUrl, credential, {
            disableChallengeResourceVerification: true,
            tlsOptions: { ca },
          });
          const poller = await client.beginCreateCertificate(
            "sdk",
            {
              issuerName: "pebble",
              subject: "CN=sdk.test",
              subjectAlternativeNames: { dnsNames: ["sdk.test"] },
            },
            { intervalInMs: 250 },
          );
          const certificate = await poller.pollUntilDone();
          expect(certificate.policy?.issuerName).toBe("pebble");
          const leaf = new X509Certificate(Buffer.from(certificate.cer as Uint8Array));
          expect(leaf.subjectAltName).toBe("DNS:sdk.test");
          expect(leaf.issuer).toMatch(/Pebble Intermediate CA/);
        } finally {
          await server.strongroom.scheduler.stop();
        }
      }, 60_000);
    }
  },
);

describe.skipIf(!pebbleAvailable || !postgresAvailable)("ACME on two nodes sharing PostgreSQL", () => {
  let database: TestDatabase;
  let pebble: Pebble;
  let nodes: InProcess[] = [];

  beforeAll(async () => {
    database = await (
      backends.find((b) => b.engine === "postgres") as (typeof backends)[number]
    ).createDatabase();
    const masterKey = randomBytes(32).toString("base64");
    const acmeHttpPort = await freePort();
    pebble = await startPebble({ httpPort: acmeHttpPort });
    const flags = { masterKey, acmeCaFile: pebble.tlsCaFile, jobs: false };
    // Only the second node listens for the CA: the first places the order, the second answers and finishes it.
    nodes = [
      await startInProcess({ database: database.url, flags }),
      await startInProcess({ database: database.url, flags: { ...flags, acmeHttpPort } }),
    ];
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    await pebble?.stop();
    await database?.drop();
  });

  it("answers a challenge one node presented from the other, which also completes the order", async () => {
    const [first, second] = nodes as [InProcess, InProcess];
    await first.kv({
      method: "PUT",
      url: `/certificates/issuers/pebble?${V}`,
      body: { provider: "Acme", credentials: { account_id: pebble.eab.keyId, pwd: pebble.eab.hmacKey } },
    });
    await first.kv({
      method: "PUT",
      url: "/admin/vaults/default/acme-issuers/pebble",
      body: { directoryUrl: pebble.directoryUrl },
    });
    const created = await first.kv({
      method: "POST",
      url: `/certificates/shared/create?${V}`,
      body: {
        policy: {
          issuer: { name: "pebble" },
          key_props: { kty: "RSA", key_size: 2048 },
          x509_props: { subject: "CN=shared.test", sans: { dns_names: ["shared.test"] } },
        },
      },
    });
    expect(created.json().status).toBe("inProgress");
    let operation = created.json();
    for (let round = 0; round < 60 && operation.status === "inProgress"; round++) {
      await second.strongroom.scheduler.runOnce("pending-issuance");
      operation = (await first.kv({ method: "GET", url: `/certificates/shared/pending?${V}` })).json();
      if (operation.status === "inProgress") await sleep(250);
    }
    expect(operation.error).toBeUndefined();
    expect(operation.status).toBe("completed");
    const certificate = (await first.kv({ method: "GET", url: `/certificates/shared?${V}` })).json();
    expect(new X509Certificate(Buffer.from(certificate.cer, "base64")).subject).toBe("CN=shared.test");
  });
});
