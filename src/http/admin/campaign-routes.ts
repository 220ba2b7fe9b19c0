import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { RevocationReason } from "../../domain/ca/model.js";
import type { CampaignService } from "../../domain/campaigns/campaign-service.js";
import { campaignView, itemView, progressView } from "./campaign-wire.js";
import { inventoryQuery } from "./inventory-wire.js";

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    /** The inventory filters by their query-string names (see /admin/inventory). */
    query: Type.Record(Type.String(), Type.String()),
    issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 127 })),
    keyType: Type.Optional(Type.Union([Type.Literal("EC"), Type.Literal("RSA")])),
    keySize: Type.Optional(Type.Integer()),
    curve: Type.Optional(Type.String()),
    revokeReason: Type.Optional(Type.String()),
    ratePerSecond: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);
const Named = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });
const Action = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 63 }),
  action: Type.Union([
    Type.Literal("run"),
    Type.Literal("pause"),
    Type.Literal("resume"),
    Type.Literal("cancel"),
    Type.Literal("retry"),
  ]),
});
const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,2}$|^1000$" })),
    after: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/**
 * Re-issuance campaigns under /admin/campaigns: create (selects now, runs nothing), the dry run
 * (`/items`: each certificate with the step the run takes), progress, and run/pause/resume/cancel/retry.
 */
export function registerCampaignRoutes(
  admin: FastifyInstance,
  { campaigns }: { campaigns: CampaignService },
) {
  const status = async (name: string) => {
    const { campaign, progress } = await campaigns.status(name);
    return { ...campaignView(campaign), progress: progressView(progress) };
  };

  admin.get("/admin/campaigns", { config: { operation: "CampaignList" } }, async () => ({
    value: (await campaigns.list()).map(campaignView),
  }));

  admin.post<{ Body: Static<typeof CreateBody> }>(
    "/admin/campaigns",
    { schema: { body: CreateBody }, config: { operation: "CampaignCreate" } },
    async (request, reply) => {
      const { name, query, revokeReason, ...options } = request.body;
      const { cursor: _cursor, limit: _limit, ...filters } = query;
      await campaigns.create(name, inventoryQuery(filters), {
        ...options,
        ...(revokeReason !== undefined && { revokeReason: revokeReason as RevocationReason }),
      });
      return reply.code(201).send(await status(name));
    },
  );

  admin.get<{ Params: Static<typeof Named> }>(
    "/admin/campaigns/:name",
    { schema: { params: Named }, config: { operation: "CampaignGet" } },
    async (request) => status(request.params.name),
  );

  admin.get<{ Params: Static<typeof Named>; Querystring: Static<typeof PageQuery> }>(
    "/admin/campaigns/:name/items",
    { schema: { params: Named, querystring: PageQuery }, config: { operation: "CampaignItems" } },
    async (request) => {
      const { limit, after } = request.query;
      const page = await campaigns.dryRun(
        request.params.name,
        limit === undefined ? undefined : Number(limit),
        after,
      );
      return {
        value: page.items.map(itemView),
        ...(page.next && {
          nextLink: `/admin/campaigns/${encodeURIComponent(request.params.name)}/items?after=${page.next}`,
        }),
      };
    },
  );

  admin.post<{ Params: Static<typeof Action> }>(
    "/admin/campaigns/:name/:action",
    { schema: { params: Action }, config: { operation: "CampaignControl" } },
    async (request) => {
      const { name, action } = request.params;
      const retried = action === "retry" ? (await campaigns.retry(name)).retried : undefined;
      if (action !== "retry") await campaigns[action](name);
      return { ...(await status(name)), ...(retried !== undefined && { retried }) };
    },
  );
}
