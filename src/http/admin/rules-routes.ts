import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { GradingService } from "../../domain/rules/grading-service.js";
import type { Finding, Rule } from "../../domain/rules/model.js";
import type { FindingStore } from "../../domain/rules/ports.js";
import type { RulesService } from "../../domain/rules/rules-service.js";
import { QueryNumber, queryNumber } from "./query-number.js";

const Where = {
  vault: Type.Optional(Type.String({ minLength: 1, maxLength: 127 })),
  ca: Type.Optional(Type.String({ minLength: 1, maxLength: 127 })),
  profile: Type.Optional(Type.String({ minLength: 1, maxLength: 127 })),
  owner: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
};
const RuleBody = Type.Object(
  {
    kind: Type.String({ minLength: 1, maxLength: 64 }),
    // An approval rule's value is an object such as {"approvals": 2, "wildcards": true}.
    value: Type.Union([
      Type.Array(Type.String()),
      Type.Integer(),
      Type.Boolean(),
      Type.String(),
      Type.Record(Type.String(), Type.Union([Type.Integer(), Type.Boolean()])),
    ]),
    locked: Type.Optional(Type.Boolean()),
    entries: Type.Optional(Type.Array(Type.String())),
    ...Where,
  },
  { additionalProperties: false },
);
const WhereQuery = Type.Object(
  { ...Where, effective: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false")])) },
  { additionalProperties: false },
);
/** One certificate's findings, open and resolved (`fingerprint`), or every open finding a page at a time. */
const FindingQuery = Type.Object(
  {
    limit: Type.Optional(QueryNumber),
    after: Type.Optional(QueryNumber),
    fingerprint: Type.Optional(Type.String({ pattern: "^[0-9a-fA-F]{64}$" })),
  },
  { additionalProperties: false },
);

export const ruleView = (r: Rule) => ({
  id: r.id,
  level: r.level,
  target: r.level === "installation" ? null : r.targetName,
  kind: r.kind,
  value: r.value,
  locked: r.locked,
  entries: r.entries ?? null,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

export const findingView = (f: Finding) => ({
  id: f.id,
  fingerprintSha256: f.fingerprintSha256,
  kind: f.kind,
  ruleId: f.ruleId ?? null,
  locationUri: f.locationUri ?? null,
  reason: f.reason,
  foundAt: f.foundAt.toISOString(),
  resolvedAt: f.resolvedAt?.toISOString() ?? null,
});

/**
 * Organisation rules and grading: `/admin/rules`, `/admin/findings`. Registered inside the admin
 * scope (its auth hook and Key Vault's error format).
 */
export function registerRulesRoutes(
  admin: FastifyInstance,
  { rules, grading, findings }: { rules: RulesService; grading: GradingService; findings: FindingStore },
): void {
  admin.get<{ Querystring: Static<typeof WhereQuery> }>(
    "/admin/rules",
    { schema: { querystring: WhereQuery }, config: { operation: "RuleList" } },
    async (request) => {
      const { effective, ...where } = request.query;
      return {
        value: (await (effective === "true" ? rules.effective(where) : rules.list(where))).map(ruleView),
      };
    },
  );
  admin.put<{ Body: Static<typeof RuleBody> }>(
    "/admin/rules",
    { schema: { body: RuleBody }, config: { operation: "RuleSet" } },
    async (request) => ruleView(await rules.set(request.body)),
  );
  admin.get<{ Params: { id: string } }>(
    "/admin/rules/:id",
    { config: { operation: "RuleGet" } },
    async (request) => ruleView(await rules.show(request.params.id)),
  );
  admin.delete<{ Params: { id: string } }>(
    "/admin/rules/:id",
    { config: { operation: "RuleDelete" } },
    async (request, reply) => {
      await rules.remove(request.params.id);
      return reply.status(204).send();
    },
  );
  admin.post("/admin/rules/grade", { config: { operation: "RuleGrade" } }, async () =>
    grading.gradeAll(new AbortController().signal),
  );
  admin.get<{ Querystring: Static<typeof FindingQuery> }>(
    "/admin/findings",
    { schema: { querystring: FindingQuery }, config: { operation: "FindingList" } },
    async (request) => {
      const { fingerprint } = request.query;
      if (fingerprint !== undefined) {
        return {
          value: (await findings.forCertificate(fingerprint.toLowerCase())).map(findingView),
          next: null,
        };
      }
      const limit = queryNumber(request.query.limit, "limit", { min: 1, max: 1000 }) ?? 100;
      const page = await findings.listOpen(
        limit,
        queryNumber(request.query.after, "after", { min: 0, max: Number.MAX_SAFE_INTEGER }),
      );
      return { value: page.items.map(findingView), next: page.next ?? null };
    },
  );
}
