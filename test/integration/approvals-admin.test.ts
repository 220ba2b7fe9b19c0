import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CertificateRequestFacts } from "../../src/domain/rules/issuance-gate.js";
import { adminCall } from "../support/access.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const wildcard: CertificateRequestFacts = {
  subject: "CN=*.admin.example",
  sans: [{ type: "dns", value: "*.admin.example" }],
  keyType: "EC",
  validityDays: 90,
};

describe("approvals in the admin API", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
  });
  afterAll(() => server.stop());

  const admin = async (method: "GET" | "POST", url: string, body?: unknown) => {
    const res = await adminCall(server, method, url, body);
    return { status: res.status, json: () => res.body };
  };
  const hold = async (requester: string) => {
    const held = await server.strongroom.core.approvals.hold({
      entry: "ca-sign",
      scope: {},
      requester,
      facts: wildcard,
      requirements: [{ approvals: 1, wildcards: true }],
      payload: {},
    });
    return held?.id ?? "";
  };

  it("lists and shows pending requests, then approves one", async () => {
    const id = await hold("someone-else");
    const listed = await admin("GET", "/admin/approvals?state=pending");
    expect(listed.status).toBe(200);
    expect(listed.json().value.map((a: { id: string }) => a.id)).toContain(id);
    const shown = await admin("GET", `/admin/approvals/${id}`);
    expect(shown.json()).toMatchObject({ id, state: "pending", because: ["wildcard name *.admin.example"] });
    expect(shown.json()).not.toHaveProperty("payload");
    const approved = await admin("POST", `/admin/approvals/${id}/approve`, { reason: "ok" });
    expect(approved.status).toBe(200);
    expect(approved.json()).toMatchObject({
      state: "approved",
      votes: [{ decision: "approve", reason: "ok" }],
    });
  });

  it("denies with a reason, and refuses a denial without one", async () => {
    const id = await hold("someone-else");
    const bare = await admin("POST", `/admin/approvals/${id}/deny`, {});
    expect(bare.status).toBe(400);
    const denied = await admin("POST", `/admin/approvals/${id}/deny`, { reason: "not this one" });
    expect(denied.json()).toMatchObject({ state: "denied", outcome: "not this one" });
    expect((await admin("POST", `/admin/approvals/${id}/approve`, {})).status).toBe(409);
  });

  it("refuses the requester's own decision with 403", async () => {
    const first = await hold("someone-else");
    const me = (await admin("POST", `/admin/approvals/${first}/approve`, {})).json().votes[0].principalId;
    const own = await hold(me);
    const res = await admin("POST", `/admin/approvals/${own}/approve`, {});
    expect(res.status).toBe(403);
    expect(res.json().error.message).toMatch(/own request/);
  });

  it("answers 404 for an unknown request and 400 for an unknown state", async () => {
    expect((await admin("GET", "/admin/approvals/nope")).status).toBe(404);
    expect((await admin("GET", "/admin/approvals?state=maybe")).status).toBe(400);
  });
});

describe("the approval-expiry job", () => {
  const clock = fakeClock();
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess({ clock });
  });
  afterAll(() => server.stop());

  it("marks a request its approvers left undecided expired, once", async () => {
    const held = await server.strongroom.core.approvals.hold({
      entry: "ca-sign",
      scope: {},
      requester: "someone",
      facts: wildcard,
      requirements: [{ approvals: 2, wildcards: true }],
      payload: {},
    });
    clock.advance(7 * 86_400_000);
    expect(await server.strongroom.scheduler.runOnce("approval-expiry")).toMatch(/expired 1/);
    expect(await server.strongroom.scheduler.runOnce("approval-expiry")).toMatch(/expired 0/);
    const expired = await server.strongroom.core.approvals.list({ state: "expired" });
    expect(expired.map((a) => a.id)).toEqual([held?.id]);
    expect(expired[0]?.outcome).toMatch(/expired at/);
  });
});
