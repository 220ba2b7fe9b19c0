import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ApprovalService } from "../../domain/approvals/approval-service.js";
import { APPROVAL_STATES, approvalData } from "../../domain/approvals/model.js";

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(APPROVAL_STATES.map((s) => Type.Literal(s)))),
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

/** Approvals under /admin/approvals; the admin scope has authenticated and audits the caller. */
export function registerApprovalRoutes(admin: FastifyInstance, approvals: ApprovalService): void {
  const by = (request: { caller?: { principalId: string } | undefined }) =>
    request.caller?.principalId ?? "unknown";
  admin.get<{ Querystring: Static<typeof ListQuery> }>(
    "/admin/approvals",
    { schema: { querystring: ListQuery }, config: { operation: "ApprovalList" } },
    async (request) => ({ value: (await approvals.list(request.query)).map(approvalData) }),
  );
  admin.get<{ Params: { id: string } }>(
    "/admin/approvals/:id",
    { config: { operation: "ApprovalGet" } },
    async (request) => approvalData(await approvals.get(request.params.id)),
  );
  admin.post<{ Params: { id: string }; Body: Static<typeof ApproveBody> }>(
    "/admin/approvals/:id/approve",
    { schema: { body: ApproveBody }, config: { operation: "ApprovalApprove" } },
    async (request) =>
      approvalData(await approvals.approve(request.params.id, by(request), request.body.reason)),
  );
  admin.post<{ Params: { id: string }; Body: Static<typeof DenyBody> }>(
    "/admin/approvals/:id/deny",
    { schema: { body: DenyBody }, config: { operation: "ApprovalDeny" } },
    async (request) =>
      approvalData(await approvals.deny(request.params.id, by(request), request.body.reason)),
  );
}
