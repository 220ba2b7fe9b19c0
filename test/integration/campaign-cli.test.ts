import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliWith } from "../support/cli.js";
import { startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";
const NAMES = ["web-a", "web-b", "web-c"];

describe("strongroom campaign on the command line", () => {
  const data = tempDataDir();
  const { cli, json } = cliWith(["--data-dir", data.dir]);

  beforeAll(async () => {
    // The certificates are made by a server on the same data directory, then it stops.
    const server = await startInProcess({ dataDir: data.dir, flags: { jobs: false } });
    const { core } = server.strongroom;
    await core.ca.createRoot({ name: "root", subject: "CN=CLI Root", pathLength: 1 });
    for (const name of ["old-int", "new-int"]) {
      await core.ca.createIntermediate({ name, parent: "root", subject: `CN=${name} CA`, validityDays: 500 });
      await server.kv({
        method: "PUT",
        url: `/certificates/issuers/${name}?${V}`,
        body: { provider: "PrivateCA", credentials: { account_id: name } },
      });
    }
    for (const name of NAMES) {
      const made = await server.createCertificate(name, {
        policy: {
          issuer: { name: "old-int" },
          key_props: { kty: "RSA", key_size: 2048 },
          x509_props: { subject: `CN=${name}`, validity_months: 6 },
        },
      });
      expect(made.json().status, made.body).toBe("completed");
    }
    await server.strongroom.scheduler.runOnce("inventory");
    await server.stop();
  }, 120_000);

  afterAll(() => data.remove());

  it("creates, dry-runs, runs to the end and reports a campaign moving RSA certificates to a new CA and EC keys", () => {
    const created = json(
      "campaign",
      "create",
      "move",
      "--issuer",
      "old-int",
      "--key-type",
      "RSA",
      "--key-size-below",
      "3072",
      "--issuer-name",
      "new-int",
      "--new-key-type",
      "EC",
      "--new-curve",
      "P-256",
      "--revoke",
      "superseded",
    );
    expect(created).toMatchObject({ name: "move", state: "draft", progress: { total: 3, remaining: 3 } });
    const plan = json("campaign", "dry-run", "move").value;
    expect(plan.map((i: { certificate: string }) => i.certificate).sort()).toEqual(NAMES);
    expect(plan[0].step).toMatch(
      /from issuer new-int, with a new EC P-256 key, then revoke the old \(superseded\)$/,
    );

    const ran = json("campaign", "run", "move");
    expect(ran).toMatchObject({ state: "finished", progress: { done: 3, failed: 0, remaining: 0 } });
    const items = json("campaign", "dry-run", "move").value;
    for (const item of items) {
      expect(item.state).toBe("done");
      expect(item.toVersion).toMatch(/^[0-9a-f]{32}$/);
      expect(item.revocation).toBe("revoked (superseded)");
    }
    const text = cli("campaign", "status", "move");
    expect(text.stdout).toMatch(/^move\tfinished\t\[#{30}\] 100%, 3\/3 done, 0 failed, 0 tasks/);
    expect(json("campaign", "list").value.map((c: { name: string }) => c.name)).toEqual(["move"]);
  });

  it("refuses a bad rate and an action the campaign's state does not allow, with a one-line reason", () => {
    const rate = cli("campaign", "create", "slow", "--rate", "-1");
    expect(rate.code).not.toBe(0);
    expect(rate.stderr).toMatch(/rate limit must be a positive number/);
    const pause = cli("campaign", "pause", "move");
    expect(pause.code).not.toBe(0);
    expect(pause.stderr).toMatch(/Campaign move is finished; it must be running to become paused/);
  });
});
