import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

describe("discovery refuses bad input with a clear 400 and stores nothing", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false, discoveryMaxAddresses: 4096 } });
  });
  afterAll(() => server?.stop());

  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    [
      "a CIDR block larger than the configured maximum",
      { targets: ["10.0.0.0/16"] },
      400,
      /more than the 4096 addresses/,
    ],
    [
      "ranges that together exceed the maximum",
      { targets: ["10.0.0.0/20", "10.1.0.0/24"] },
      400,
      /more than the 4096/,
    ],
    ["an IPv6 block larger than the maximum", { targets: ["fd00::/64"] }, 400, /more than the 4096/],
    [
      "an octet above 255",
      { targets: ["10.0.0.256"] },
      400,
      /not an IP address, CIDR block, range or host name/,
    ],
    ["a prefix longer than the address", { targets: ["10.0.0.0/33"] }, 400, /longer than 32 bits/],
    ["a range that ends before it starts", { targets: ["10.0.0.9-10.0.0.1"] }, 400, /ends before it starts/],
    ["a range across families", { targets: ["10.0.0.1-::1"] }, 400, /not an address of the same family/],
    ["a host name with spaces", { targets: ["not a host"] }, 400, /not an IP address/],
    ["no targets", { targets: [] }, 400, /at least one target/],
    ["port 0", { targets: ["10.0.0.1"], ports: ["0"] }, 400, /within 1-65535/],
    ["a port above 65535", { targets: ["10.0.0.1"], ports: [70000] }, 400, /not a port|within 1-65535/],
    [
      "a port that is not a number",
      { targets: ["10.0.0.1"], ports: ["https"] },
      400,
      /not a port or port range/,
    ],
    [
      "an exclusion that is a host name",
      { targets: ["10.0.0.1"], exclude: ["example.com"] },
      400,
      /must be an address, CIDR block or range/,
    ],
    [
      "an address as SNI",
      { targets: ["10.0.0.1"], sni: ["10.0.0.1"] },
      400,
      /not a DNS name that SNI can carry/,
    ],
    [
      "an unknown STARTTLS protocol",
      { targets: ["10.0.0.1"], starttls: { "21": "ftp" } },
      400,
      /not one of smtp, imap, pop3, ldap/,
    ],
    [
      "zero concurrency",
      { targets: ["10.0.0.1"], concurrency: 0 },
      400,
      /concurrency must be a whole number from 1/,
    ],
    ["a timeout too short to handshake", { targets: ["10.0.0.1"], timeoutMs: 5 }, 400, /timeoutMs must be/],
    [
      "an unknown field",
      { targets: ["10.0.0.1"], colour: "blue" },
      400,
      /must NOT have additional properties/,
    ],
    ["a file scan without an agent", { kind: "files", roots: ["/etc"] }, 400, /runs on an agent's host/],
    [
      "an agent that does not exist",
      { targets: ["10.0.0.1"], agent: "nobody" },
      404,
      /No agent named nobody/,
    ],
  ];

  it.each(cases)("refuses %s", async (_what, body, status, message) => {
    const res = await server.kv({ method: "POST", url: "/admin/discovery/scans", body });
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().error.message).toMatch(message);
  });

  it("refuses a schedule shorter than a minute and a malformed agent name", async () => {
    const schedule = await server.kv({
      method: "POST",
      url: "/admin/discovery/schedules",
      body: { name: "often", targets: ["10.0.0.1"], intervalSeconds: 5 },
    });
    expect(schedule.statusCode).toBe(400);
    expect(schedule.json().error.message).toMatch(/at least 60 seconds/);
    const agent = await server.kv({
      method: "POST",
      url: "/admin/discovery/agents",
      body: { name: "no spaces allowed" },
    });
    expect(agent.statusCode).toBe(400);
  });

  it("has stored no run, schedule or agent after all of that", async () => {
    for (const path of ["scans", "schedules", "agents"]) {
      const res = await server.kv({ method: "GET", url: `/admin/discovery/${path}` });
      expect(res.json().value, path).toEqual([]);
    }
  });

  it("refuses the same in the CLI with the reason and exit code 1", () => {
    const dataDir = server.strongroom.core.config.dataDir;
    const out = runCli(["discovery", "scan", "--target", "10.0.0.0/8", "--data-dir", dataDir]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/more than the 65536 addresses one scan may cover/);
    const port = runCli([
      "discovery",
      "scan",
      "--target",
      "10.0.0.1",
      "--port",
      "99999",
      "--data-dir",
      dataDir,
    ]);
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/within 1-65535/);
  });
});
