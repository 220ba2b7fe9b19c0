import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ApprovalService } from "../../domain/approvals/approval-service.js";
import type { ApprovalRequest } from "../../domain/approvals/model.js";

const STATES = ["pending", "approved", "denied", "expired"] as const;
const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const ApproveBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);
const DenyBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 1000 }) },
  { additionalProperties: false },
);

/** The request as approvers see it; the entry point's payload stays inside. */
export const approvalView = (a: ApprovalRequest) => ({
  id: a.id,
  entry: a.entry,
  scope: a.scope,
  requester: a.requester,
  summary: a.summary,
  because: a.because,
  required: a.required,
  state: a.state,
  votes: a.votes.map((v) => ({ ...v, at: v.at.toISOString() })),
  outcome: a.outcome,
  createdAt: a.createdAt.toISOString(),
  expiresAt: a.expiresAt.toISOString(),
  decidedAt: a.decidedAt?.toISOString(),
});

/** Approvals under /admin/approvals; the admin scope has authenticated and audits the caller. */
export function registerApprovalRoutes(admin: FastifyInstance, approvals: ApprovalService): void {
  const by = (request: { caller?: { principalId: string } | undefined }) =>
    request.caller?.principalId ?? "unknown";
  admin.get<{ Querystring: Static<typeof ListQuery> }>(
    "/admin/approvals",
    { schema: { querystring: ListQuery }, config: { operation: "ApprovalList" } },
    async (request) => ({ value: (await approvals.list(request.query)).map(approvalView) }),
  );
  admin.get<{ Params: { id: string } }>(
    "/admin/approvals/:id",
    { config: { operation: "ApprovalGet" } },
    async (request) => approvalView(await approvals.get(request.params.id)),
  );
  admin.post<{ Params: { id: string }; Body: Static<typeof ApproveBody> }>(
    "/admin/approvals/:id/approve",
    { schema: { body: ApproveBody }, config: { operation: "ApprovalApprove" } },
    async (request) =>
      approvalView(await approvals.approve(request.params.id, by(request), request.body.reason)),
  );
  admin.post<{ Params: { id: string }; Body: Static<typeof DenyBody> }>(
    "/admin/approvals/:id/deny",
    { schema: { body: DenyBody }, config: { operation: "ApprovalDeny" } },
    async (request) =>
      approvalView(await approvals.deny(request.params.id, by(request), request.body.reason)),
  );
}
