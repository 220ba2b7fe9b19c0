import { Readable } from "node:stream";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import { authorizeAdmin } from "../../domain/access/authorize.js";
import { AdminActions } from "../../domain/access/data-actions.js";
import type { IdentityService } from "../../domain/access/identity-service.js";
import { toJsonLine, toOcsf } from "../../domain/audit/audit-export.js";
import type { AuditService } from "../../domain/audit/audit-service.js";
import type { AuditFilter, AuditOutcome, AuditRecord } from "../../domain/audit/model.js";
import { badParameter } from "../../domain/errors.js";
import { renderKeyVaultError } from "../keyvault/errors.js";
import type { SessionAuth } from "../ui/session-auth.js";
import { allowOrRefuse, authenticateCaller } from "./admin-authorization.js";
import { QueryNumber, queryNumber } from "./query-number.js";

const Filters = {
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  object: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  since: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  until: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  outcome: Type.Optional(
    Type.Union(["success", "failure", "pending", "unknown"].map((o) => Type.Literal(o))),
  ),
};
const ListQuery = Type.Object(
  { ...Filters, limit: Type.Optional(QueryNumber), before: Type.Optional(QueryNumber) },
  { additionalProperties: false },
);
const ExportQuery = Type.Object(
  { ...Filters, format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("ocsf")])) },
  { additionalProperties: false },
);
type Filters = Omit<Static<typeof ListQuery>, "limit" | "before">;

const DEFAULT_PAGE = 100;

const time = (value: string | undefined, name: string): Date | undefined => {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw badParameter(`${name} must be a date or time, e.g. 2026-01-31T12:00:00Z, not "${value}"`);
  return at;
};

function filterOf(q: Filters): AuditFilter {
  return {
    principal: q.actor,
    operation: q.action,
    object: q.object,
    since: time(q.since, "since"),
    until: time(q.until, "until"),
    outcome: q.outcome as AuditOutcome | undefined,
  };
}

/** A row as the API shows it: the stored fields, the time in ISO 8601. */
const rowView = (row: AuditRecord) => ({ ...row, time: row.time.toISOString() });

/** The query string of `q` with `before` set, for the next page's link. */
function nextLink(q: Filters & { limit?: string | undefined }, before: number): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(q)) if (value !== undefined) params.set(key, value);
  params.set("before", String(before));
  return `/admin/audit?${params}`;
}

export interface AuditRouteDeps {
  identity: IdentityService;
  access: AccessService;
  sessions?: SessionAuth | undefined;
  audit: AuditService;
}

/**
 * The audit log under /admin/audit: search newest first, verify the chain, export as JSON lines or
 * OCSF. Outside the admin API's installation-wide check: reading the log needs its own right
 * (Strongroom/audit/read, held by administrators and by "Strongroom Auditor"), not admin/read.
 */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const { audit } = deps;
  app.register(async (scope) => {
    scope.setErrorHandler(renderKeyVaultError);
    scope.addHook("onRequest", async (request) => {
      const { caller, grants } = await authenticateCaller(request, deps, "admin API");
      const action = AdminActions.auditRead;
      allowOrRefuse(request, caller, authorizeAdmin(grants, action), action, "/");
    });

    scope.get<{ Querystring: Static<typeof ListQuery> }>(
      "/admin/audit",
      { schema: { querystring: ListQuery }, config: { operation: "AuditSearch" } },
      async (request) => {
        const { limit, before, ...filters } = request.query;
        const size = queryNumber(limit, "limit", { min: 1, max: 1000 }) ?? DEFAULT_PAGE;
        const beforeSeq = queryNumber(before, "before", { min: 1, max: Number.MAX_SAFE_INTEGER });
        // One row more than the page shows whether another page follows.
        const rows = await audit.search(filterOf(filters), { beforeSeq, limit: size + 1 });
        const page = rows.slice(0, size);
        const last = page[page.length - 1];
        return {
          value: page.map(rowView),
          ...(rows.length > size && last && { nextLink: nextLink({ ...filters, limit }, last.seq) }),
        };
      },
    );

    scope.post(
      "/admin/audit/verify",
      // Reads only; its row is written after the verdict, like any other request's.
      { config: { operation: "AuditVerify" } },
      async () => audit.verify(),
    );

    scope.get<{ Querystring: Static<typeof ExportQuery> }>(
      "/admin/audit/export",
      { schema: { querystring: ExportQuery }, config: { operation: "AuditExport" } },
      async (request, reply) => {
        const { format = "json", ...filters } = request.query;
        const filter = filterOf(filters);
        const line = format === "ocsf" ? (r: AuditRecord) => JSON.stringify(toOcsf(r)) : toJsonLine;
        async function* lines() {
          for await (const row of audit.matching(filter)) yield `${line(row)}\n`;
        }
        return reply
          .type("application/x-ndjson")
          .header("content-disposition", `attachment; filename="strongroom-audit-${format}.jsonl"`)
          .send(Readable.from(lines()));
      },
    );
  });
}
