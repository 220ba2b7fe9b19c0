import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { freePort, type Nginx, type Site, startNginx } from "../support/nginx-fleet.js";
import { serverBackends } from "../support/server-backends.js";
import { makeCertificate, makeSha1Ca, type TestCertificate } from "../support/test-pki.js";
import { type Endpoint, startGarbageServer, startSlowLoris, startTlsSmtp } from "../support/tls-endpoints.js";
import { commandExists, requireTool } from "../support/tools.js";

const hasNginx = requireTool("nginx", commandExists("nginx"), "apt-get install -y nginx");
const DAY = 86_400_000;

/** One port free on every address given, so one port list covers the whole fleet. */
async function portFreeOn(addresses: readonly string[]): Promise<number> {
  for (;;) {
    const port = await freePort(addresses[0] as string);
    const free = await Promise.all(
      addresses.map(
        (address) =>
          new Promise<boolean>((resolve) => {
            const probe = createTcpServer();
            probe.once("error", () => resolve(false));
            probe.listen(port, address, () => probe.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return port;
  }
}

/** One endpoint's result as GET /admin/discovery/scans/{id}/results answers it. */
interface WireResult {
  location: string;
  outcome: string;
  error?: string;
  fingerprintSha256?: string;
  tlsVersion?: string;
  cipher?: string;
  detail: Record<string, string | number>;
  chain: {
    subject: string;
    issuer: string;
    notBefore: string;
    notAfter: string;
    fingerprintSha256: string;
  }[];
}

interface Served {
  leaf: TestCertificate;
  chain: TestCertificate[];
}

for (const backend of serverBackends) {
  describe.skipIf(!hasNginx || !backend.enabled)(
    `TLS network discovery over a fleet of nginx server blocks on loopback (${backend.name})`,
    () => {
      let server: InProcess;
      let drop: () => Promise<void> = async () => {};
      let nginx: Nginx;
      let dir: string;
      let port: number;
      let smtp: Endpoint;
      let smtpPort: number;
      const expected = new Map<string, Served>();
      type Name =
        | "root"
        | "intermediate"
        | "valid"
        | "expired"
        | "future"
        | "selfSigned"
        | "rsa1024"
        | "sha1Ca"
        | "sha1"
        | "orphan"
        | "sniA"
        | "sniB"
        | "smtp"
        | "smtp2";
      const pki = {} as Record<Name, TestCertificate>;

      const kv = (...args: Parameters<InProcess["kv"]>) => server.kv(...args);
      const runJob = () => server.strongroom.scheduler.runOnce("discovery");
      async function scan(body: Record<string, unknown>) {
        const created = await kv({ method: "POST", url: "/admin/discovery/scans", body });
        expect(created.statusCode, created.body).toBe(201);
        await runJob();
        const run = (await kv({ method: "GET", url: `/admin/discovery/scans/${created.json().id}` })).json();
        const results = (await kv({ method: "GET", url: `/admin/discovery/scans/${run.id}/results` })).json()
          .value;
        return { run, results: results as WireResult[] };
      }
      const fleetScan = (name: string) => ({
        name,
        targets: ["127.0.0.0/28", "127.0.0.9=sni-b.test", { address: "127.0.0.17", ports: [smtpPort] }],
        exclude: ["127.0.0.0-127.0.0.1", "127.0.0.10-127.0.0.15"],
        ports: [port],
        starttls: { [String(smtpPort)]: "smtp" },
        knownNames: false,
        timeoutMs: 3000,
      });

      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), "strongroom-fleet-"));
        const now = Date.now();
        pki.root = await makeCertificate({ name: "Fleet Root", ca: true });
        pki.intermediate = await makeCertificate({ name: "Fleet Intermediate", ca: true, issuer: pki.root });
        const issued = (name: string, extra: Parameters<typeof makeCertificate>[0] = { name }) =>
          makeCertificate({ ...extra, name, issuer: pki.intermediate, dnsNames: [name] });
        pki.valid = await issued("valid.test");
        pki.expired = await issued("expired.test", {
          name: "",
          notBefore: new Date(now - 400 * DAY),
          notAfter: new Date(now - 30 * DAY),
        });
        pki.future = await issued("future.test", {
          name: "",
          notBefore: new Date(now + 30 * DAY),
          notAfter: new Date(now + 400 * DAY),
        });
        pki.selfSigned = await makeCertificate({ name: "self-signed.test", dnsNames: ["self-signed.test"] });
        pki.rsa1024 = await makeCertificate({ name: "rsa1024.test", dnsNames: ["rsa1024.test"], bits: 1024 });
        pki.sha1Ca = await makeSha1Ca("Legacy SHA-1 CA");
        pki.sha1 = await makeCertificate({ name: "sha1.test", dnsNames: ["sha1.test"], issuer: pki.sha1Ca });
        pki.orphan = await issued("orphan.test");
        pki.sniA = await issued("sni-a.test");
        pki.sniB = await issued("sni-b.test");
        pki.smtp = await issued("smtp.test");
        pki.smtp2 = await issued("smtp.test");

        const addresses = [2, 3, 4, 5, 6, 7, 8, 9].map((n) => `127.0.0.${n}`);
        port = await portFreeOn(addresses);
        const site = (n: number, name: string, served: Served, serverName?: string): Site => {
          const location = `tls://127.0.0.${n}:${port}${serverName ? `?sni=${serverName}` : ""}`;
          if (!serverName || serverName === "sni-b.test") expected.set(location, served);
          return {
            name,
            address: `127.0.0.${n}`,
            port,
            ...(serverName && { serverName }),
            chainPem: [served.leaf, ...served.chain].map((c) => c.pem).join(""),
            keyPem: served.leaf.keyPem,
          };
        };
        const { intermediate } = pki;
        const sites = [
          site(2, "valid", { leaf: pki.valid, chain: [intermediate] }),
          site(3, "expired", { leaf: pki.expired, chain: [intermediate] }),
          site(4, "not yet valid", { leaf: pki.future, chain: [intermediate] }),
          site(5, "self-signed", { leaf: pki.selfSigned, chain: [] }),
          site(6, "RSA-1024", { leaf: pki.rsa1024, chain: [] }),
          site(7, "SHA-1 signed", { leaf: pki.sha1, chain: [pki.sha1Ca] }),
          site(8, "missing intermediate", { leaf: pki.orphan, chain: [] }),
          {
            ...site(9, "SNI default", { leaf: pki.sniA, chain: [intermediate] }),
            isDefault: true,
            serverName: "sni-a.test",
          },
          site(9, "SNI b", { leaf: pki.sniB, chain: [intermediate] }, "sni-b.test"),
        ];
        nginx = await startNginx(join(dir, "nginx"), sites);
        smtp = await startTlsSmtp("127.0.0.17", pki.smtp.pem + intermediate.pem, pki.smtp.keyPem);
        smtpPort = smtp.port;
        expected.set(`tls://127.0.0.17:${smtpPort}`, { leaf: pki.smtp, chain: [intermediate] });
        const database = await backend.database();
        drop = async () => database?.drop();
        server = await startInProcess({
          flags: { jobs: false },
          ...(database && { database: database.url }),
        });
      }, 120_000);

      afterAll(async () => {
        await server?.stop();
        await drop();
        await nginx?.stop();
        await smtp?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it("finds exactly the chain each endpoint serves, with its TLS version and cipher", async () => {
        const { run, results } = await scan(fleetScan("fleet"));
        expect(run.status).toBe("completed");
        expect(results.filter((r) => r.outcome !== "ok").map((r) => `${r.location}: ${r.error}`)).toEqual([]);
        // 127.0.0.2-9 with no SNI, 127.0.0.9 with sni-b.test, and the SMTP endpoint.
        expect(run.total).toBe(10);
        expect(run.done).toBe(10);
        expect(run.failed).toBe(0);
        expect(run.remaining).toBe(0);
        const found = new Map(results.map((r) => [r.location, r]));
        expect([...found.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [location, served] of expected) {
          const result = found.get(location) as WireResult;
          expect(result.outcome, location).toBe("ok");
          expect(result.fingerprintSha256, location).toBe(served.leaf.sha256);
          expect(
            result.chain.map((c: { fingerprintSha256: string }) => c.fingerprintSha256),
            location,
          ).toEqual([served.leaf, ...served.chain].map((c) => c.sha256));
          expect(result.tlsVersion).toMatch(/^TLSv1\.[23]$/);
          expect(result.cipher).toBeTruthy();
        }
        const leafAt = (n: number) =>
          (found.get(`tls://127.0.0.${n}:${port}`) as WireResult).chain[0] as WireResult["chain"][number];
        expect(new Date(leafAt(3).notAfter).getTime()).toBeLessThan(Date.now());
        expect(new Date(leafAt(4).notBefore).getTime()).toBeGreaterThan(Date.now());
        expect(leafAt(5).subject).toBe(leafAt(5).issuer);
        expect(found.get(`tls://127.0.0.17:${smtpPort}`)?.detail.starttls).toBe("smtp");
        // Every location is new in the first run of a name.
        expect(run.diff.counts).toEqual({ new: 10, changed: 0, gone: 0 });
      });

      it("puts what it finds in the inventory, one record per certificate with each place it was served", async () => {
        for (const [location, served] of expected) {
          const record = await kv({ method: "GET", url: `/admin/inventory/${served.leaf.sha256}` });
          expect(record.statusCode, location).toBe(200);
          const uris = record
            .json()
            .locations.map((l: { uri: string; source: string }) => `${l.source} ${l.uri}`);
          expect(uris, location).toContain(`tls ${location}`);
        }
        // The intermediate is in the inventory too, as a chain link of what it issued.
        const intermediate = await kv({ method: "GET", url: `/admin/inventory/${pki.intermediate.sha256}` });
        expect(intermediate.statusCode).toBe(200);
      });

      it("tries the DNS names earlier scans saw at an address as SNI", async () => {
        const { run, results } = await scan({ name: "sni-known", targets: ["127.0.0.9"], ports: [port] });
        expect(run.status).toBe("completed");
        const sniB = results.find((r) => r.location === `tls://127.0.0.9:${port}?sni=sni-b.test`);
        expect(sniB?.fingerprintSha256).toBe(pki.sniB.sha256);
        const sniA = results.find((r) => r.location === `tls://127.0.0.9:${port}?sni=sni-a.test`);
        expect(sniA?.fingerprintSha256).toBe(pki.sniA.sha256);
      });

      it("reports what changed and what is gone since the previous run of the same name", async () => {
        const location = `tls://127.0.0.17:${smtpPort}`;
        await smtp.close();
        smtp = await startTlsSmtpOn(smtpPort, pki.smtp2.pem, pki.smtp2.keyPem);
        const changed = await scan(fleetScan("fleet"));
        expect(changed.run.diff.counts).toEqual({ new: 0, changed: 1, gone: 0 });
        expect(changed.run.diff.changed[0]).toEqual({
          location,
          fingerprint: pki.smtp2.sha256,
          previous: pki.smtp.sha256,
        });

        await smtp.close();
        const gone = await scan(fleetScan("fleet"));
        expect(gone.run.diff.counts).toEqual({ new: 0, changed: 0, gone: 1 });
        expect(gone.run.diff.gone[0]).toEqual({ location, previous: pki.smtp2.sha256 });
        expect(gone.results.find((r) => r.location === location)?.outcome).toBe("refused");
        const record = (await kv({ method: "GET", url: `/admin/inventory/${pki.smtp2.sha256}` })).json();
        const place = record.locations.find((l: { uri: string }) => l.uri === location);
        expect(place.goneAt).toBeDefined();
      });

      it("survives hostile endpoints: garbage after ClientHello, a 1 MB chain, a slow-loris handshake", async () => {
        const garbage = await startGarbageServer("127.0.0.18");
        const slow = await startSlowLoris("127.0.0.18");
        const padding = await Promise.all(
          [1, 2, 3, 4].map((i) => makeCertificate({ name: `padding-${i}`, padding: 256 * 1024 })),
        );
        const huge = createTlsServer({
          cert: [pki.valid, ...padding].map((c) => c.pem).join(""),
          key: pki.valid.keyPem,
        });
        huge.on("tlsClientError", () => undefined);
        await new Promise<void>((resolve) => huge.listen(0, "127.0.0.18", resolve));
        const hugePort = (huge.address() as { port: number }).port;
        const normal = await freePort("127.0.0.18");
        try {
          const started = Date.now();
          const { run, results } = await scan({
            name: "hostile",
            targets: ["127.0.0.18", "127.0.0.2"],
            ports: [garbage.port, slow.port, hugePort, normal, port],
            knownNames: false,
            timeoutMs: 1500,
          });
          expect(Date.now() - started).toBeLessThan(15_000);
          expect(run.status).toBe("completed");
          const outcome = (p: number, host = "127.0.0.18") =>
            results.find((r) => r.location === `tls://${host}:${p}`)?.outcome;
          expect(outcome(garbage.port)).toBe("handshake");
          expect(outcome(slow.port)).toBe("timeout");
          expect(outcome(hugePort)).toBe("handshake");
          expect(outcome(normal)).toBe("refused");
          expect(outcome(port, "127.0.0.2")).toBe("ok");
        } finally {
          await garbage.close();
          await slow.close();
          await new Promise((resolve) => huge.close(resolve));
        }
      }, 60_000);

      it("runs a schedule when it is due, and not again before its interval", async () => {
        const created = await kv({
          method: "POST",
          url: "/admin/discovery/schedules",
          body: {
            name: "hourly",
            targets: ["127.0.0.2"],
            ports: [port],
            knownNames: false,
            intervalSeconds: 3600,
          },
        });
        expect(created.statusCode, created.body).toBe(201);
        await runJob();
        await runJob();
        const runs = (await kv({ method: "GET", url: "/admin/discovery/scans?name=hourly" })).json().value;
        expect(runs).toHaveLength(1);
        expect(runs[0].status).toBe("completed");
        expect(runs[0].done).toBe(1);
        const schedules = (await kv({ method: "GET", url: "/admin/discovery/schedules" })).json().value;
        expect(new Date(schedules[0].nextRunAt).getTime()).toBeGreaterThan(Date.now() + 3500_000);
      });

      it("cancels a running scan: it stops, keeps what it found and says how far it got", async () => {
        const created = await kv({
          method: "POST",
          url: "/admin/discovery/scans",
          body: {
            name: "slow",
            targets: ["127.0.0.19"],
            ports: ["20000-20199"],
            ratePerSecond: 10,
            knownNames: false,
          },
        });
        const id = created.json().id as string;
        const job = runJob();
        let run = created.json();
        for (let i = 0; i < 100 && run.done < 5; i++) {
          await new Promise((r) => setTimeout(r, 200));
          run = (await kv({ method: "GET", url: `/admin/discovery/scans/${id}` })).json();
        }
        expect(run.status).toBe("running");
        const cancelled = await kv({ method: "POST", url: `/admin/discovery/scans/${id}/cancel` });
        expect(cancelled.statusCode).toBe(200);
        expect(cancelled.json().status).toBe("cancelled");
        await job;
        const after = (await kv({ method: "GET", url: `/admin/discovery/scans/${id}` })).json();
        expect(after.status).toBe("cancelled");
        expect(after.total).toBe(200);
        expect(after.done).toBeGreaterThan(0);
        expect(after.done).toBeLessThan(200);
        expect(after.remaining).toBe(200 - after.done);
        // At 10 connections a second, 200 endpoints cannot have been done in the time it ran.
        const again = await kv({ method: "POST", url: `/admin/discovery/scans/${id}/cancel` });
        expect(again.statusCode).toBe(409);
      }, 60_000);
    },
  );
}

/** The SMTP endpoint again on the same port, with another certificate. */
async function startTlsSmtpOn(port: number, chainPem: string, keyPem: string): Promise<Endpoint> {
  for (let attempt = 0; ; attempt++) {
    const endpoint = await startTlsSmtp("127.0.0.17", chainPem, keyPem, port).catch((error: unknown) => {
      if (attempt > 20) throw error;
      return undefined;
    });
    if (endpoint) return endpoint;
    await new Promise((r) => setTimeout(r, 100));
  }
}
