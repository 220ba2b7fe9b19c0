import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opensslCsr } from "../support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const WORKERS = 2;
/** Enough requests on new connections that the primary's round robin reaches every worker. */
const SPREAD = 4 * WORKERS;

interface Answer {
  status: number;
  body: Buffer;
}

/** One request on a connection of its own, so each lands on the next worker in turn. */
function once(
  url: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
) {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve, reject) => {
    const req = send(
      url,
      {
        method: init.method ?? "GET",
        headers: { connection: "close", ...init.headers },
        agent: target.protocol === "https:" ? new Agent({ ca, keepAlive: false }) : false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** The pids of the server's worker processes (its children). */
function workerPids(primary: number): number[] {
  const out = spawnSync("pgrep", ["-P", String(primary)], { encoding: "utf8" }).stdout;
  return out.split("\n").filter(Boolean).map(Number);
}

describe(`a server with ${WORKERS} worker processes`, () => {
  const data = tempDataDir();
  const work = tempDataDir();
  const file = (name: string) => join(work.dir, name);
  let server: ServerProcess;
  let origin = "";
  let adminAuth = "";

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await once(`${origin}${path}`, server.ca, {
      method,
      headers: { authorization: adminAuth, "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: () => JSON.parse(res.body.toString()) };
  };

  const token = async (clientId: string, clientSecret: string) => {
    const res = await once(
      `${server.admin.authorityHost}/${server.admin.tenantId}/oauth2/v2.0/token`,
      server.ca,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          client_id: clientId,
          client_secret: clientSecret,
          grant_type: "client_credentials",
          scope: "https://localhost/.default",
        }).toString(),
      },
    );
    expect(res.status, res.body.toString()).toBe(200);
    return `Bearer ${JSON.parse(res.body.toString()).access_token}`;
  };

  /** What the OCSP responder says about the leaf, as openssl reads the answer. */
  async function ocspStatus(): Promise<string> {
    const res = await once(`${server.pkiUrl}/ocsp`, server.ca, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: readFileSync(file("req.der")),
    });
    writeFileSync(file("resp.der"), res.body);
    const read = spawnSync(
      "openssl",
      [
        "ocsp",
        "-respin",
        file("resp.der"),
        "-issuer",
        file("issuing.pem"),
        "-cert",
        file("leaf.pem"),
        "-noverify",
      ],
      { encoding: "utf8" },
    );
    return /leaf\.pem: (\w+)/.exec(read.stdout)?.[1] ?? read.stdout + read.stderr;
  }

  /**
   * The answers to `call` made SPREAD times, one after the other: the primary hands each new
   * connection to the next worker in turn, so every worker answers some.
   */
  const spread = async <T>(call: () => Promise<T>) => {
    const answers: T[] = [];
    for (let i = 0; i < SPREAD; i++) answers.push(await call());
    return answers;
  };

  beforeAll(async () => {
    server = await startServerProcess(data.dir, ["--workers", String(WORKERS)]);
    origin = `https://localhost:${server.port}`;
    adminAuth = await token(server.admin.clientId, server.admin.clientSecret);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    data.remove();
    work.remove();
  });

  it("prints its start-up summary once, as a single process does", () => {
    expect(server.output().match(/Strongroom is serving the default vault/g)).toHaveLength(1);
    expect(workerPids(server.pid)).toHaveLength(WORKERS);
  });

  it("answers with the same vault and state on every worker", async () => {
    const created = await admin("PUT", "/secrets/shared?api-version=7.6", { value: "one value" });
    expect(created.status).toBe(200);
    const reads = await spread(() => admin("GET", "/secrets/shared?api-version=7.6"));
    expect(reads.map((r) => r.status)).toEqual(Array(SPREAD).fill(200));
    expect(new Set(reads.map((r) => r.json().value))).toEqual(new Set(["one value"]));
  });

  it("applies a removed role assignment on every worker at once", async () => {
    const principal = await admin("POST", "/admin/principals", { displayName: "reader" });
    const { id, clientId, clientSecret } = principal.json();
    const assignment = await admin("POST", "/admin/roleassignments", {
      principalId: id,
      role: "Key Vault Secrets User",
      scope: "/vaults/default",
    });
    expect(assignment.status).toBe(201);
    const auth = await token(clientId, clientSecret);
    const read = () =>
      once(`${origin}/secrets/shared?api-version=7.6`, server.ca, { headers: { authorization: auth } }).then(
        (r) => r.status,
      );
    // Every worker resolves and caches the principal's rights (for five seconds by default).
    expect(await spread(read)).toEqual(Array(SPREAD).fill(200));
    expect((await admin("DELETE", `/admin/roleassignments/${assignment.json().id}`)).status).toBe(204);
    expect(await spread(read)).toEqual(Array(SPREAD).fill(403));
  });

  it("answers OCSP with a revocation on every worker as soon as the revocation is answered", async () => {
    expect(
      (await admin("POST", "/admin/cas", { name: "root", kind: "root", subject: "CN=Workers Root" })).status,
    ).toBe(201);
    const issuing = await admin("POST", "/admin/cas", {
      name: "issuing",
      kind: "intermediate",
      parent: "root",
      subject: "CN=Workers Issuing",
    });
    expect(issuing.status).toBe(201);
    writeFileSync(file("issuing.pem"), issuing.json().certificate);
    opensslCsr(file("leaf.key"), file("leaf.csr"), "/CN=leaf.workers.example");
    const signed = await admin("POST", "/admin/cas/issuing/sign", {
      csr: readFileSync(file("leaf.csr"), "utf8"),
    });
    expect(signed.status).toBe(201);
    writeFileSync(file("leaf.pem"), signed.json().certificate);
    execFileSync("openssl", [
      "ocsp",
      "-issuer",
      file("issuing.pem"),
      "-cert",
      file("leaf.pem"),
      "-no_nonce",
      "-reqout",
      file("req.der"),
    ]);
    // Every worker caches a good answer; without the announcement the others would serve it for
    // up to ten seconds more.
    expect(await spread(ocspStatus)).toEqual(Array(SPREAD).fill("good"));
    const revoked = await admin("POST", "/admin/revocations", {
      serial: signed.json().serial,
      reason: "keyCompromise",
    });
    expect(revoked.status).toBe(200);
    expect(await spread(ocspStatus)).toEqual(Array(SPREAD).fill("revoked"));
  });

  it("replaces a worker that dies, and keeps serving meanwhile", async () => {
    const [victim] = workerPids(server.pid);
    process.kill(victim as number, "SIGKILL");
    await expect
      .poll(() => server.output(), { timeout: 10_000 })
      .toMatch(/worker \d+ exited \(SIGKILL\); starting another/);
    expect((await admin("GET", "/secrets/shared?api-version=7.6")).status).toBe(200);
    await expect
      .poll(() => workerPids(server.pid).filter((pid) => pid !== victim).length, { timeout: 20_000 })
      .toBe(WORKERS);
    const reads = await spread(() => admin("GET", "/secrets/shared?api-version=7.6"));
    expect(reads.map((r) => r.status)).toEqual(Array(SPREAD).fill(200));
  }, 30_000);

  it("stops every worker on SIGTERM", async () => {
    const pids = workerPids(server.pid);
    expect(await server.stop()).toBe(0);
    const alive = pids.filter((pid) => spawnSync("kill", ["-0", String(pid)]).status === 0);
    expect(alive).toEqual([]);
  });
});
