import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { toPem } from "../../src/crypto/pem.js";
import { type Core, openCore } from "../../src/main.js";
import { fakeClock } from "../support/in-process.js";
import { opensslCsr } from "../support/openssl-req.js";
import { createTestDatabase, postgresAvailable } from "../support/postgres.js";
import { tempDataDir } from "../support/server-process.js";

describe.skipIf(!postgresAvailable)("OCSP answers when another node revokes", () => {
  const clock = fakeClock(new Date());
  const dirs = [tempDataDir(), tempDataDir()];
  const work = tempDataDir();
  const file = (name: string) => join(work.dir, name);
  let drop: () => Promise<void>;
  let nodes: [Core, Core];
  let serial = "";

  /** What node's responder says about the leaf, as openssl reads the answer. */
  async function statusOn(node: Core): Promise<string> {
    const answer = await node.ocsp.respond(readFileSync(file("req.der")));
    if (!answer.ok) throw new Error(`OCSP failed: ${answer.status}`);
    writeFileSync(file("resp.der"), answer.der);
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

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    const masterKey = randomBytes(32).toString("base64");
    const opened: Core[] = [];
    for (const dir of dirs) {
      const config = loadConfig({
        env: {},
        flags: { dataDir: dir.dir, database: database.url, masterKey, logLevel: "silent", jobs: false },
      });
      opened.push(await openCore(config, clock));
    }
    nodes = opened as [Core, Core];
    const [a] = nodes;
    await a.ca.createRoot({ name: "root", subject: "CN=Shared Root" });
    const issuing = await a.ca.createIntermediate({
      name: "issuing",
      parent: "root",
      subject: "CN=Shared Issuing",
    });
    writeFileSync(file("issuing.pem"), toPem("CERTIFICATE", issuing.certificate as Buffer));
    opensslCsr(file("leaf.key"), file("leaf.csr"), "/CN=shared.example");
    const csr = Buffer.from(
      readFileSync(file("leaf.csr"), "utf8").replace(/-----[^-]+-----|\s/g, ""),
      "base64",
    );
    const { issued } = await a.ca.signCsr("issuing", csr, {});
    serial = issued.serial;
    writeFileSync(file("leaf.pem"), toPem("CERTIFICATE", issued.der));
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
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await drop?.();
    for (const dir of [...dirs, work]) dir.remove();
  });

  it("serves its cached answer for at most ten seconds after another node revoked the certificate", async () => {
    const [a, b] = nodes;
    expect(await statusOn(a)).toBe("good");
    await b.ca.revoke(await b.ca.findIssued(serial), "keyCompromise");
    // Node B signs afresh at once; node A's answer was pre-signed and is still within its recheck time.
    expect(await statusOn(b)).toBe("revoked");
    expect(await statusOn(a)).toBe("good");
    clock.advance(10_001);
    expect(await statusOn(a)).toBe("revoked");
  });
});
