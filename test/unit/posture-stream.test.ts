import { describe, expect, it } from "vitest";
import type { InventoryRecord } from "../../src/domain/inventory/model.js";
import { type PostureFacts, postureReport, postureStream } from "../../src/domain/reports/posture.js";
import { renderPosture } from "../../src/domain/reports/posture-formats.js";

const NOW = new Date("2026-08-01T00:00:00Z");
const DAY_MS = 86_400_000;

let serial = 0;
function record(o: {
  key: "RSA" | "EC" | "Ed25519";
  size: number;
  expiresInDays: number;
  isCa?: boolean;
  gone?: boolean;
  fingerprint?: string;
}): InventoryRecord {
  serial++;
  const at = new Date(NOW.getTime() - DAY_MS);
  return {
    fingerprintSha256: o.fingerprint ?? serial.toString(16).padStart(64, "0"),
    subject: `CN=host-${serial}.example`,
    issuer: "CN=Test CA",
    serialNumber: serial.toString(16),
    notBefore: at,
    notAfter: new Date(NOW.getTime() + o.expiresInDays * DAY_MS),
    keyType: o.key,
    keySize: o.size,
    signatureAlgorithm: "sha256WithRSAEncryption",
    sans: [],
    selfSigned: false,
    isCa: o.isCa ?? false,
    firstSeenAt: at,
    locations: [
      {
        uri: `tls://10.0.0.${serial}:443`,
        source: "tls",
        firstSeenAt: at,
        lastSeenAt: at,
        ...(o.gone && { goneAt: at }),
      },
    ],
  };
}

/** Facts over a list, read the way the service reads the inventory, and counting how often each pass runs. */
function factsOf(records: InventoryRecord[]) {
  const reads = { any: 0, latestFirst: 0 };
  const facts: PostureFacts = {
    async *records() {
      reads.any++;
      yield* records;
    },
    async *latestExpiryFirst() {
      reads.latestFirst++;
      yield* [...records].sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime());
    },
    violationsByRule: async () => [{ ruleId: "r1", kind: "key-types", count: 2 }],
  };
  return { facts, reads };
}

async function text(body: AsyncIterable<string>) {
  let out = "";
  for await (const piece of body) out += piece;
  return out;
}

describe("the streamed posture report", () => {
  it("lists CA keys first, then the latest expiry first, then the smaller key, then the fingerprint", async () => {
    const records = [
      record({ key: "RSA", size: 4096, expiresInDays: 90, fingerprint: "b".repeat(64) }),
      record({ key: "EC", size: 256, expiresInDays: 30 }),
      record({ key: "RSA", size: 2048, expiresInDays: 90, fingerprint: "c".repeat(64) }),
      record({ key: "RSA", size: 2048, expiresInDays: 90, fingerprint: "a".repeat(64) }),
      record({ key: "EC", size: 384, expiresInDays: 10, isCa: true }),
      record({ key: "RSA", size: 4096, expiresInDays: 3000, isCa: true }),
      record({ key: "EC", size: 256, expiresInDays: 365 }),
    ];
    const { quantumReadiness } = await postureReport(factsOf(records).facts, NOW);
    expect(quantumReadiness.map((q) => [q.rank, q.isCa, q.keyAlgorithm, q.fingerprint.slice(0, 1)])).toEqual([
      [1, true, "RSA 4096", "0"],
      [2, true, "EC 384", "0"],
      [3, false, "EC 256", "0"],
      [4, false, "RSA 2048", "a"],
      [5, false, "RSA 2048", "c"],
      [6, false, "RSA 4096", "b"],
      [7, false, "EC 256", "0"],
    ]);
  });

  it("leaves out keys no quantum computer breaks and certificates no longer anywhere", async () => {
    const records = [
      record({ key: "Ed25519", size: 256, expiresInDays: 90 }),
      record({ key: "RSA", size: 2048, expiresInDays: 90, gone: true }),
      record({ key: "EC", size: 256, expiresInDays: 90, isCa: true, gone: true }),
      record({ key: "EC", size: 256, expiresInDays: 80 }),
    ];
    const report = await postureReport(factsOf(records).facts, NOW);
    expect(report.overall.total).toBe(2);
    expect(report.quantumReadiness.map((q) => q.keyAlgorithm)).toEqual(["EC 256"]);
  });

  it("reads the inventory once to count and once, lazily, for the list", async () => {
    const { facts, reads } = factsOf([record({ key: "RSA", size: 2048, expiresInDays: 5 })]);
    const stream = await postureStream(facts, NOW);
    expect(reads).toEqual({ any: 1, latestFirst: 0 });
    expect(stream.summary.overall.total).toBe(1);
    await text(renderPosture(stream, "csv").body);
    expect(reads).toEqual({ any: 1, latestFirst: 1 });
  });

  it("writes the same JSON as stringifying the whole report, with and without entries", async () => {
    for (const records of [
      [],
      [
        record({ key: "RSA", size: 2048, expiresInDays: 5 }),
        record({ key: "EC", size: 256, expiresInDays: 900, isCa: true }),
      ],
    ]) {
      const streamed = await text(
        renderPosture(await postureStream(factsOf(records).facts, NOW), "json").body,
      );
      const whole = await postureReport(factsOf(records).facts, NOW);
      expect(streamed).toBe(`${JSON.stringify(whole, null, 2)}\n`);
    }
  });

  it("hands the reader large pieces rather than one per row", async () => {
    const records = Array.from({ length: 3000 }, (_, i) =>
      record({ key: "RSA", size: 2048, expiresInDays: 1 + (i % 400) }),
    );
    const pieces: string[] = [];
    for await (const piece of renderPosture(await postureStream(factsOf(records).facts, NOW), "html").body)
      pieces.push(piece);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.length).toBeLessThan(3000 / 100);
    expect(pieces.slice(0, -1).every((p) => p.length >= 65_536)).toBe(true);
    expect(pieces.join("")).toMatch(/<\/tbody><\/table>\n<\/body><\/html>\n$/);
  });
});
