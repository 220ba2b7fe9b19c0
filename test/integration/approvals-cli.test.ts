import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPrincipal } from "../../src/cli/cli-audit.js";
import { createApprovalService } from "../../src/domain/approvals/approval-service.js";
import { systemClock } from "../../src/domain/clock.js";
import { openDatabase } from "../../src/storage/database.js";
import { createSqlApprovalStore } from "../../src/storage/sql-approval-store.js";
import { cliWith } from "../support/cli.js";
import { opensslCsr } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom approvals", () => {
  const data = tempDataDir();
  const dataDir = join(data.dir, "data");
  const { cli, json } = cliWith(["--data-dir", dataDir, "--log-level", "silent"]);
  let others: string;
  let mine: string;

  beforeAll(async () => {
    expect(json("approvals", "list")).toEqual({ value: [] });
    // Nothing on the command line asks for approval itself: the requests come in as an entry point would make them.
    const storage = openDatabase(join(dataDir, "strongroom.db"));
    const approvals = createApprovalService({
      store: createSqlApprovalStore(storage),
      clock: systemClock,
      expiresAfterMs: 3_600_000,
    });
    const hold = async (requester: string) =>
      (
        await approvals.hold({
          entry: "ca-sign",
          scope: {},
          requester,
          facts: {
            subject: "CN=*.cli.example",
            sans: [{ type: "dns", value: "*.cli.example" }],
            keyType: "EC",
          },
          requirements: [{ approvals: 1, wildcards: true }],
          payload: {},
        })
      )?.id ?? "";
    others = await hold("someone-else");
    mine = await hold(cliPrincipal());
    await storage.close();
  });
  afterAll(() => data.remove());

  it("lists pending requests and shows one", () => {
    const ids = json("approvals", "list").value.map((a: { id: string }) => a.id);
    expect(ids.sort()).toEqual([others, mine].sort());
    expect(json("approvals", "show", others)).toMatchObject({ state: "pending", requester: "someone-else" });
    expect(cli("approvals", "list").stdout).toContain("0/1");
  });

  it("approves another's request as the CLI's principal", () => {
    const approved = json("approvals", "approve", others, "--reason", "looked fine");
    expect(approved).toMatchObject({
      state: "approved",
      votes: [{ principalId: cliPrincipal(), reason: "looked fine" }],
    });
  });

  it("refuses to approve one's own request, and a denial without a reason", () => {
    const own = cli("approvals", "approve", mine);
    expect(own.code).not.toBe(0);
    expect(own.stderr).toMatch(/own request/);
    expect(cli("approvals", "deny", mine).code).not.toBe(0);
    expect(cli("approvals", "show", "nope").stderr).toMatch(/not found/);
  });
});

describe("strongroom ca sign held for approval", () => {
  const data = tempDataDir();
  const dataDir = join(data.dir, "data");
  const { cli } = cliWith(["--data-dir", dataDir, "--log-level", "silent"]);
  let id: string;

  beforeAll(() => {
    expect(cli("ca", "create-root", "issuing", "--subject", "CN=CLI Approval Root").code).toBe(0);
    expect(cli("rules", "set", "approval", "approvals=1", "--ca", "issuing").code).toBe(0);
    opensslCsr(
      join(data.dir, "host.key"),
      join(data.dir, "host.csr"),
      "/CN=host.example",
      "DNS:host.example",
    );
  });
  afterAll(() => data.remove());

  it("prints the request id of a held sign, and sign-request says pending with exit code 3", () => {
    const held = cli("ca", "sign", "issuing", "--csr", join(data.dir, "host.csr"));
    expect(held.code, held.stderr).toBe(0);
    expect(held.stderr).toMatch(/Held for approval/);
    id = held.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const pending = cli("ca", "sign-request", "issuing", id);
    expect(pending.code).toBe(3);
    expect(pending.stdout).toMatch(/^pending\t/);
  });

  it("writes the certificate once another principal approves, which openssl verifies", async () => {
    const storage = openDatabase(join(dataDir, "strongroom.db"));
    const approvals = createApprovalService({
      store: createSqlApprovalStore(storage),
      clock: systemClock,
      expiresAfterMs: 3_600_000,
    });
    await approvals.approve(id, "another-approver");
    await storage.close();
    const out = join(data.dir, "host.pem");
    const fetched = cli("ca", "sign-request", "issuing", id, "-o", out);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stderr).toMatch(/Issued serial/);
    const chain = join(data.dir, "chain.pem");
    writeFileSync(chain, cli("ca", "show", "issuing", "--pem").stdout);
    expect(execFileSync("openssl", ["verify", "-CAfile", chain, out], { encoding: "utf8" })).toContain("OK");
  });

  it("fails with the denier's reason once denied", async () => {
    const held = cli("ca", "sign", "issuing", "--csr", join(data.dir, "host.csr"));
    const storage = openDatabase(join(dataDir, "strongroom.db"));
    const approvals = createApprovalService({
      store: createSqlApprovalStore(storage),
      clock: systemClock,
      expiresAfterMs: 3_600_000,
    });
    await approvals.deny(held.stdout.trim(), "another-approver", "no such host here");
    await storage.close();
    const refused = cli("ca", "sign-request", "issuing", held.stdout.trim(), "--wait", "5");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/denied by another-approver: no such host here/);
  });
});
