import { createSocket } from "node:dgram";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { checkpointSignatureValid } from "../../src/crypto/ed25519-audit-signer.js";
import { checkpointFromText } from "../../src/domain/audit/checkpoint-codec.js";
import { type AuditEntry, checkpointMessage } from "../../src/domain/audit/model.js";
import { createScheduler } from "../../src/jobs/scheduler.js";
import { type Core, createJobs, openCore } from "../../src/main.js";
import { syslogCheckpointSink } from "../../src/notify/checkpoint-sinks.js";
import { createSqlLeaseStore } from "../../src/storage/sql-job-store.js";
import { fakeClock } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const DAY_MS = 86_400_000;

const entry = (time: Date, i: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  time,
  requestId: `request-${i}`,
  principalId: "principal-1",
  vault: "default",
  operation: "SecretGet",
  objectId: `https://localhost/secrets/s${i}`,
  outcome: "success",
  status: 200,
  clientAddress: "10.0.0.7",
  ...extra,
});

describe("audit checkpoints, interrupted intents and retention", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function core(flags: Record<string, unknown>, clock = fakeClock()): Promise<Core> {
    const data = tempDataDir();
    const opened = await openCore(
      loadConfig({ env: {}, flags: { dataDir: data.dir, logLevel: "silent", ...flags } }),
      clock,
    );
    cleanups.push(
      () => data.remove(),
      () => opened.close(),
    );
    return opened;
  }

  it("signs a checkpoint and delivers it to a file, a webhook and a syslog receiver", async () => {
    const posted: string[] = [];
    const web = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        posted.push(body);
        res.writeHead(204).end();
      });
    });
    web.listen(0, "127.0.0.1");
    await once(web, "listening");
    const udp = createSocket("udp4");
    udp.bind(0, "127.0.0.1");
    await once(udp, "listening");
    const datagrams: string[] = [];
    udp.on("message", (m) => datagrams.push(m.toString("utf8")));
    cleanups.push(
      () => new Promise<void>((r) => web.close(() => r())),
      () => void udp.close(),
    );
    const data = tempDataDir();
    cleanups.push(() => data.remove());
    const file = join(data.dir, "checkpoints.jsonl");
    const c = await core({
      auditCheckpointFile: file,
      auditCheckpointWebhook: `http://127.0.0.1:${(web.address() as { port: number }).port}/checkpoints`,
      auditCheckpointSyslog: `udp://127.0.0.1:${udp.address().port}`,
    });
    await c.audit.record(entry(new Date(), 1));
    const summary = await createJobs(c).runOnce("audit-checkpoint");
    expect(summary).toMatch(/checkpoint at row 1 sent to 3 of 3 sinks/);
    for (let i = 0; i < 100 && datagrams.length === 0; i++) await new Promise((r) => setTimeout(r, 10));

    const fromFile = checkpointFromText(readFileSync(file, "utf8"));
    expect(fromFile).toMatchObject({ seq: 1, publicKey: c.auditSigner.publicKey });
    expect(
      checkpointSignatureValid(checkpointMessage(fromFile), fromFile.signature, fromFile.publicKey),
    ).toBe(true);
    expect(checkpointFromText(posted[0] ?? "")).toEqual(fromFile);
    // RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
    expect(datagrams[0]).toMatch(/^<85>1 \S+Z \S+ strongroom \d+ audit-checkpoint - \{/);
    expect(checkpointFromText((datagrams[0] ?? "").replace(/^.*? - /, ""))).toEqual(fromFile);
    expect(await c.audit.verify({ checkpoint: fromFile, signer: c.auditSigner })).toEqual({
      intact: true,
      rows: 1,
    });
  });

  it("sends a checkpoint over TCP syslog with octet counting", async () => {
    const received: Buffer[] = [];
    const tcp = createTcpServer((socket) => socket.on("data", (d: Buffer) => received.push(d)));
    tcp.listen(0, "127.0.0.1");
    await once(tcp, "listening");
    cleanups.push(() => new Promise<void>((r) => tcp.close(() => r())));
    const c = await core({});
    const checkpoint = await c.audit.checkpoint(c.auditSigner, new Date());
    await syslogCheckpointSink(`tcp://127.0.0.1:${(tcp.address() as { port: number }).port}`).send(
      checkpoint,
    );
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const frame = Buffer.concat(received).toString("utf8");
    const [length, ...rest] = frame.split(" ");
    expect(Buffer.byteLength(rest.join(" "))).toBe(Number(length));
    expect(rest.join(" ")).toMatch(/^<85>1 /);
  });

  it("completes intents whose process stopped as committed (outcome unknown) or not, by the change records", async () => {
    const clock = fakeClock();
    const c = await core({}, clock);
    const anHourAgo = new Date(clock.now().getTime() - 3_600_000);
    const intent = { operation: "SecretSet", outcome: "pending", status: 0 } as const;
    await c.audit.record(entry(anHourAgo, 1, intent));
    await c.audit.record(entry(anHourAgo, 2, intent));
    await c.audit.record(entry(clock.now(), 3, intent));
    // Request 2's change committed (its row is recorded beside it); request 1's never did.
    await c.storage.db
      .insertInto("audit_changes")
      .values({ seq: 2, request_id: "request-2", mac: "m" })
      .execute();
    await createJobs(c).runOnce("audit-checkpoint");
    const rows = [];
    for await (const r of c.audit.records()) rows.push(r);
    expect(rows.slice(3).map((r) => [r.requestId, r.outcome])).toEqual([
      ["request-1", "failure"],
      ["request-2", "unknown"],
    ]);
    expect(rows[3]?.detail).toMatch(/was not committed/);
    expect(rows[4]?.detail).toMatch(/committed; the process stopped before it answered/);
    // Request 3 is still in flight: left alone, and picked up once it is old.
    clock.advance(3_600_000);
    await createJobs(c).runOnce("audit-checkpoint");
    const later = [];
    for await (const r of c.audit.records(5)) later.push([r.requestId, r.outcome]);
    expect(later).toEqual([["request-3", "failure"]]);
  });

  it("records a job's changes as system:<job>, with its intent rows and its outcome", async () => {
    const c = await core({});
    const scheduler = createScheduler({
      jobs: [
        {
          name: "vault-maker",
          intervalMs: 60_000,
          run: async () => {
            await c.vaults.create("made-by-a-job");
            return "1 vault made";
          },
        },
      ],
      leases: createSqlLeaseStore(c.storage),
      clock: c.clock,
      owner: "test",
      logger: pino({ level: "silent" }),
      audit: c.audit,
    });
    expect(await scheduler.runOnce("vault-maker")).toBe("1 vault made");
    const rows = [];
    for await (const r of c.audit.records()) rows.push(r);
    expect(rows.map((r) => [r.principalId, r.operation, r.outcome, r.detail ?? null])).toEqual([
      ["system:vault-maker", "job vault-maker", "pending", null],
      ["system:vault-maker", "job vault-maker", "success", "1 vault made"],
    ]);
    expect(await c.audit.verify()).toEqual({ intact: true, rows: 2 });
  });

  it("archives rows past the retention with a checkpoint at the cut, prunes them, and the kept log still verifies", async () => {
    const clock = fakeClock();
    const c = await core({ auditRetentionDays: 1 }, clock);
    const old = new Date(clock.now().getTime() - 3 * DAY_MS);
    for (let i = 1; i <= 5; i++) await c.audit.record(entry(old, i));
    for (let i = 6; i <= 8; i++) await c.audit.record(entry(clock.now(), i));
    const before = await c.audit.checkpoint(c.auditSigner, clock.now());

    const summary = await createJobs(c).runOnce("audit-retention");
    expect(summary).toMatch(/^5 rows archived to (\S+) and pruned$/);
    const archive = (/archived to (\S+)/.exec(summary ?? "") ?? [])[1] as string;
    const lines = readFileSync(archive, "utf8").trim().split("\n");
    expect(lines.slice(0, 5).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5]);
    const cut = checkpointFromText(lines.join("\n"));
    expect(cut.seq).toBe(5);

    const kept = [];
    for await (const r of c.audit.records()) kept.push(r.seq);
    expect(kept).toEqual([6, 7, 8]);
    expect(await c.audit.verify()).toEqual({ intact: true, rows: 3 });
    expect(await c.audit.verify({ checkpoint: cut, signer: c.auditSigner })).toEqual({
      intact: true,
      rows: 3,
    });
    expect(await c.audit.verify({ checkpoint: before, signer: c.auditSigner })).toEqual({
      intact: true,
      rows: 3,
    });
  });
});
