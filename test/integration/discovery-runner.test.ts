import { describe, expect, it } from "vitest";
import { type RunReporter, runTlsScan } from "../../src/discovery/scan-runner.js";
import type { EndpointResult } from "../../src/domain/discovery/model.js";
import { tlsScanSpec } from "../../src/domain/discovery/targets.js";

/** A reporter kept in memory, as the discovery service would keep it in the database. */
function memoryReporter(done: string[], stopAfter = Number.POSITIVE_INFINITY) {
  const recorded: EndpointResult[] = [];
  const totals: number[] = [];
  let completed = false;
  const reporter: RunReporter = {
    knownNames: async () => new Map(),
    doneLocations: async () => new Set(done),
    async record(results, total) {
      recorded.push(...results);
      totals.push(total);
      return recorded.length < stopAfter;
    },
    async complete() {
      completed = true;
    },
  };
  return { reporter, recorded, totals, completed: () => completed };
}

// Nothing listens on these loopback ports: each endpoint ends at once as refused.
const spec = tlsScanSpec({ targets: ["127.0.0.23"], ports: ["1-40"], knownNames: false, concurrency: 8 });

describe("the scan runner", () => {
  it("resumes a taken-over run: endpoints that already have a result are not scanned again", async () => {
    const done = Array.from({ length: 30 }, (_, i) => `tls://127.0.0.23:${i + 1}`);
    const memory = memoryReporter(done);
    expect(await runTlsScan(spec, memory.reporter)).toBe("completed");
    expect(memory.recorded.map((r) => r.location).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `tls://127.0.0.23:${i + 31}`).sort(),
    );
    expect(memory.recorded.every((r) => r.outcome === "refused")).toBe(true);
    expect(new Set(memory.totals)).toEqual(new Set([40]));
    expect(memory.completed()).toBe(true);
  });

  it("stops when the reporter says the run was cancelled, without completing it", async () => {
    const slow = tlsScanSpec({
      targets: ["127.0.0.23"],
      ports: ["1-400"],
      knownNames: false,
      ratePerSecond: 100,
    });
    const memory = memoryReporter([], 1);
    expect(await runTlsScan(slow, memory.reporter)).toBe("cancelled");
    expect(memory.recorded.length).toBeLessThan(400);
    expect(memory.completed()).toBe(false);
  });

  it("stops without completing when the process shuts down", async () => {
    const slow = tlsScanSpec({
      targets: ["127.0.0.23"],
      ports: ["1-400"],
      knownNames: false,
      ratePerSecond: 50,
    });
    const memory = memoryReporter([]);
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort(), 300);
    expect(await runTlsScan(slow, memory.reporter, shutdown.signal)).toBe("stopped");
    expect(memory.recorded.length).toBeLessThan(400);
    expect(memory.completed()).toBe(false);
  });
});
