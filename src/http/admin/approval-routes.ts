import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import {
  authorizeAdmin,
  authorizeAnywhere,
  authorizeAtAny,
  type PrincipalGrants,
} from "../../domain/access/authorize.js";
import { AdminActions } from "../../domain/access/data-actions.js";
import type { IdentityService } from "../../domain/access/identity-service.js";
import type { Caller } from "../../domain/access/model.js";
import type { ApprovalService } from "../../domain/approvals/approval-service.js";
import { APPROVAL_STATES, approvalData } from "../../domain/approvals/model.js";
import { renderKeyVaultError } from "../keyvault/errors.js";
import type { SessionAuth } from "../ui/session-auth.js";
import { allowOrRefuse, authenticateCaller } from "./admin-authorization.js";
import { QueryNumber, queryNumber } from "./query-number.js";

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(APPROVAL_STATES.map((s) => Type.Literal(s)))),
    limit: Type.Optional(QueryNumber),
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

export interface ApprovalRouteDeps {
  identity: IdentityService;
  access: AccessService;
  /** Dashboard sessions: an approver decides from the browser as themselves. */
  sessions?: SessionAuth | undefined;
  approvals: ApprovalService;
}

/**
 * Approvals under /admin/approvals, outside the admin API's installation-wide check: an approver
 * holds "Certificate Approver" (Strongroom/approvals/decide) at the installation, a vault, one
 * certificate or a CA, and decides only the requests of that scope; administrators hold it at `/`.
 * Reading asks for approvals/read at some scope, or the admin API's read right.
 */
export function registerApprovalRoutes(app: FastifyInstance, deps: ApprovalRouteDeps): void {
  const { approvals } = deps;
  const grantsOf = new WeakMap<FastifyRequest, { caller: Caller; grants: PrincipalGrants }>();
  app.register(async (scope) => {
    scope.setErrorHandler(renderKeyVaultError);
    scope.addHook("onRequest", async (request) => {
      const { caller, grants } = await authenticateCaller(request, deps, "admin API");
      grantsOf.set(request, { caller, grants });
      if (request.method !== "GET") return;
      const admin = authorizeAdmin(grants, AdminActions.read);
      const decision = admin.allowed ? admin : authorizeAnywhere(grants, AdminActions.approvalsRead);
      allowOrRefuse(request, caller, decision, AdminActions.approvalsRead, "/");
    });

    /** The approver's right at the request's scope; the request itself says which scope that is. */
    const mayDecide = async (request: FastifyRequest, id: string) => {
      const authenticated = grantsOf.get(request);
      if (!authenticated) throw new Error("the onRequest hook authenticates every approval route");
      const { caller, grants } = authenticated;
      const scopes = await approvals.approverScopes(await approvals.get(id));
      const decision = authorizeAtAny(grants, AdminActions.approvalsDecide, scopes);
      return allowOrRefuse(request, caller, decision, AdminActions.approvalsDecide, scopes.join(", "))
        .principalId;
    };

    scope.get<{ Querystring: Static<typeof ListQuery> }>(
      "/admin/approvals",
      { schema: { querystring: ListQuery }, config: { operation: "ApprovalList" } },
      async (request) => {
        const limit = queryNumber(request.query.limit, "limit", { min: 1, max: 1000 });
        return { value: (await approvals.list({ ...request.query, limit })).map(approvalData) };
      },
    );
    scope.get<{ Params: { id: string } }>(
      "/admin/approvals/:id",
      { config: { operation: "ApprovalGet" } },
      async (request) => approvalData(await approvals.get(request.params.id)),
    );
    scope.post<{ Params: { id: string }; Body: Static<typeof ApproveBody> }>(
      "/admin/approvals/:id/approve",
      { schema: { body: ApproveBody }, config: { operation: "ApprovalApprove" } },
      async (request) => {
        const by = await mayDecide(request, request.params.id);
        return approvalData(await approvals.approve(request.params.id, by, request.body.reason));
      },
    );
    scope.post<{ Params: { id: string }; Body: Static<typeof DenyBody> }>(
      "/admin/approvals/:id/deny",
      { schema: { body: DenyBody }, config: { operation: "ApprovalDeny" } },
      async (request) => {
        const by = await mayDecide(request, request.params.id);
        return approvalData(await approvals.deny(request.params.id, by, request.body.reason));
      },
    );
  });
}
