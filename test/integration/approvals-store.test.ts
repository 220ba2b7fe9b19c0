import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApprovalService, createApprovalService } from "../../src/domain/approvals/approval-service.js";
import type { ApprovalRequirement } from "../../src/domain/approvals/requirement.js";
import type { CertificateRequestFacts } from "../../src/domain/rules/issuance-gate.js";
import { createSqlApprovalStore } from "../../src/storage/sql-approval-store.js";
import { backends, openFreshStorage } from "../support/backends.js";
import { fakeClock } from "../support/in-process.js";

const HOUR = 3_600_000;

const wildcard: CertificateRequestFacts = {
  subject: "CN=*.shop.example",
  sans: [{ type: "dns", value: "*.shop.example" }],
  keyType: "EC",
  curve: "P-256",
  validityDays: 90,
};
const plain: CertificateRequestFacts = {
  ...wildcard,
  subject: "CN=www.shop.example",
  sans: [{ type: "dns", value: "www.shop.example" }],
};
const twoForWildcards: ApprovalRequirement = { wildcards: true, approvals: 2 };

describe.each(backends)("approval requests on $engine", (backend) => {
  if (!backend.available) return;
  let dispose: () => Promise<void>;
  let approvals: ApprovalService;
  const clock = fakeClock();

  beforeAll(async () => {
    const fresh = await openFreshStorage(backend);
    dispose = fresh.dispose;
    approvals = createApprovalService({
      store: createSqlApprovalStore(fresh.storage),
      clock,
      expiresAfterMs: 24 * HOUR,
    });
  });
  afterAll(() => dispose());

  const hold = (facts: CertificateRequestFacts, requirement: ApprovalRequirement | undefined) =>
    approvals.hold({
      entry: "ca-sign",
      scope: { caId: "ca-1" },
      requester: "alice",
      facts,
      requirements: requirement ? [requirement] : [],
      payload: { csr: "base64" },
    });

  it("holds only requests that meet a condition, saying which", async () => {
    expect(await hold(plain, twoForWildcards)).toBeUndefined();
    expect(await hold(wildcard, undefined)).toBeUndefined();
    const held = await hold(wildcard, twoForWildcards);
    expect(held).toMatchObject({ state: "pending", required: 2, because: ["wildcard name *.shop.example"] });
    expect(
      await hold({ ...plain, validityDays: 400 }, { validityAboveDays: 397, approvals: 1 }),
    ).toMatchObject({
      because: ["validity of 400 days is above 397"],
    });
    const stored = await approvals.get(held?.id ?? "");
    expect(stored.payload).toEqual({ csr: "base64" });
    expect(stored.scope).toEqual({ caId: "ca-1" });
  });

  it("never lets the requester approve or deny their own request", async () => {
    const held = await hold(wildcard, twoForWildcards);
    const id = held?.id ?? "";
    await expect(approvals.approve(id, "alice")).rejects.toMatchObject({
      code: "Forbidden",
      reason: "SelfApproval",
    });
    await expect(approvals.deny(id, "alice", "no")).rejects.toMatchObject({ reason: "SelfApproval" });
    expect((await approvals.get(id)).votes).toEqual([]);
  });

  it("is approved once N distinct approvers agree, and not before", async () => {
    const id = (await hold(wildcard, twoForWildcards))?.id ?? "";
    expect((await approvals.approve(id, "bob")).state).toBe("pending");
    await expect(approvals.approve(id, "bob")).rejects.toMatchObject({
      code: "Conflict",
      reason: "AlreadyVoted",
    });
    const approved = await approvals.approve(id, "carol", "checked the order");
    expect(approved.state).toBe("approved");
    expect(approved.votes.map((v) => v.principalId)).toEqual(["bob", "carol"]);
    expect((await approvals.get(id)).state).toBe("approved");
    await expect(approvals.deny(id, "dave", "late")).rejects.toMatchObject({ reason: "ApprovalDecided" });
  });

  it("is denied by one approver, whose reason is kept; a denial needs a reason", async () => {
    const id = (await hold(wildcard, twoForWildcards))?.id ?? "";
    await approvals.approve(id, "bob");
    await expect(approvals.deny(id, "carol", "  ")).rejects.toMatchObject({ code: "BadParameter" });
    const denied = await approvals.deny(id, "carol", "wildcards are not allowed for shop");
    expect(denied).toMatchObject({ state: "denied", outcome: "wildcards are not allowed for shop" });
    expect((await approvals.get(id)).outcome).toBe("wildcards are not allowed for shop");
  });

  it("expires when its approvers do not decide in time, and takes no decision after", async () => {
    const id = (await hold(wildcard, twoForWildcards))?.id ?? "";
    await approvals.approve(id, "bob");
    clock.advance(24 * HOUR);
    expect((await approvals.get(id)).state).toBe("expired");
    await expect(approvals.approve(id, "carol")).rejects.toMatchObject({ reason: "ApprovalDecided" });
    const expired = await approvals.expireDue();
    expect(expired.map((r) => r.id)).toContain(id);
    expect((await approvals.list({ state: "expired" })).map((r) => r.id)).toContain(id);
    expect(await approvals.expireDue()).toEqual([]);
  });

  it("counts concurrent approvals exactly once each", async () => {
    const id = (await hold(wildcard, { wildcards: true, approvals: 3 }))?.id ?? "";
    const results = await Promise.allSettled(
      ["bob", "carol", "dave", "erin"].map((p) => approvals.approve(id, p)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const final = await approvals.get(id);
    expect(final.state).toBe("approved");
    expect(final.votes).toHaveLength(3);
  });

  it("answers NotFound for an unknown request", async () => {
    await expect(approvals.approve("nope", "bob")).rejects.toMatchObject({ code: "NotFound" });
    await expect(approvals.get("nope")).rejects.toMatchObject({ code: "NotFound" });
  });
});
