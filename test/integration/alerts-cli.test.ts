import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlertEventData } from "../../src/domain/alerts/model.js";
import { cliWith } from "../support/cli.js";
import { pemWithKey, testCertificate } from "../support/inventory-certs.js";
import { tempDataDir } from "../support/server-process.js";

describe("strongroom alerts and strongroom report posture", () => {
  const data = tempDataDir();
  const file = (name: string) => join(data.dir, name);
  const { cli, json } = cliWith(["--data-dir", file("data"), "--log-level", "silent"]);
  let id: string;
  afterAll(() => data.remove());

  beforeAll(async () => {
    expect(cli("vault", "create", "default").code).toBe(0);
    // Twenty days from expiry: inside the 30-day threshold from the start.
    const soon = await testCertificate({
      subject: "CN=soon.cli.test",
      notAfter: new Date(Date.now() + 20 * 86_400_000),
    });
    writeFileSync(file("soon.pem"), await pemWithKey(soon));
    const imported = cli("cert", "import", "soon", "--file", file("soon.pem"));
    expect(imported.code, imported.stderr).toBe(0);
    for (const [name, months] of [["later", "24"]] as const) {
      const created = cli(
        "cert",
        "create",
        name,
        "--subject",
        `CN=${name}.cli.test`,
        "--validity-months",
        months,
      );
      expect(created.code, created.stderr).toBe(0);
    }
    for (const job of ["inventory", "alerts"]) expect(cli("jobs", "run", job).code).toBe(0);
  });

  it("lists the open alert as text and JSON and shows it", () => {
    const text = cli("alerts", "list");
    expect(text.stdout).toMatch(/open\s+expiring\/30d\s+.*CN=soon\.cli\.test expires within 30 days/);
    const { value } = json("alerts", "list");
    expect(value).toHaveLength(1);
    id = (value[0] as AlertEventData).id;
    expect(json("alerts", "show", id)).toMatchObject({
      id,
      kind: "expiring",
      state: "open",
      vaultName: "default",
    });
  });

  it("acknowledges and resolves it as the CLI's principal", () => {
    expect(json("alerts", "ack", id, "--note", "ticket 42")).toMatchObject({
      state: "acknowledged",
      note: "ticket 42",
    });
    const resolved = json("alerts", "resolve", id);
    expect(resolved.state).toBe("resolved");
    expect(resolved.resolvedBy).toMatch(/^cli:/);
    expect(json("alerts", "list").value).toEqual([]);
    expect(json("alerts", "list", "--state", "resolved").value).toHaveLength(1);
  });

  it("refuses an unknown alert, a second resolution and a bad state with a message and a failing exit code", () => {
    for (const args of [
      ["alerts", "show", "no-such-alert"],
      ["alerts", "resolve", id],
      ["alerts", "list", "--state", "closed"],
      ["report", "posture", "--format", "pdf"],
    ]) {
      const result = cli(...args);
      expect(result.code, args.join(" ")).not.toBe(0);
      expect(result.stderr, args.join(" ")).not.toMatch(/at .*\.js:\d+/);
      expect(result.stderr.length, args.join(" ")).toBeGreaterThan(0);
    }
  });

  it("writes the posture report as JSON, CSV and HTML", () => {
    const report = JSON.parse(cli("report", "posture").stdout);
    expect(report.overall.total).toBe(2);
    expect(report.byVault).toEqual([expect.objectContaining({ vault: "default", total: 2 })]);
    // The imported certificate is a self-signed CA: CA keys migrate first, whatever their expiry.
    expect(
      report.quantumReadiness.map((q: { subject: string; isCa: boolean }) => [q.subject, q.isCa]),
    ).toEqual([
      ["CN=soon.cli.test", true],
      ["CN=later.cli.test", false],
    ]);
    expect(cli("report", "posture", "--format", "csv", "-o", file("posture.csv")).code).toBe(0);
    expect(readFileSync(file("posture.csv"), "utf8")).toMatch(
      /^"scope","group","section","value","count"\r\n/,
    );
    expect(cli("report", "posture", "--format", "html", "-o", file("posture.html")).code).toBe(0);
    expect(readFileSync(file("posture.html"), "utf8")).toContain("<h2>Vault default</h2>");
  });
});
