import { Readable } from "node:stream";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { type InventoryService, MAX_PAGE } from "../../domain/inventory/inventory-service.js";
import { csvHeader, csvLine, inventoryItem, inventoryQuery } from "./inventory-wire.js";

const Filters = Type.Object(
  {
    expiringWithin: Type.Optional(Type.String()),
    expired: Type.Optional(Type.String()),
    issuer: Type.Optional(Type.String()),
    subject: Type.Optional(Type.String()),
    san: Type.Optional(Type.String()),
    keyType: Type.Optional(Type.String()),
    minKeySize: Type.Optional(Type.String()),
    keySizeBelow: Type.Optional(Type.String()),
    signatureAlgorithm: Type.Optional(Type.String()),
    source: Type.Optional(Type.String()),
    location: Type.Optional(Type.String()),
    owner: Type.Optional(Type.String()),
    sort: Type.Optional(Type.String()),
    limit: Type.Optional(Type.String()),
    cursor: Type.Optional(Type.String()),
    facets: Type.Optional(Type.String()),
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")])),
  },
  { additionalProperties: false },
);
const OwnerBody = Type.Object(
  {
    team: Type.Optional(Type.String()),
    application: Type.Optional(Type.String()),
    contact: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/**
 * The inventory under /admin/inventory: search with filters, sorting and cursor paging (JSON with
 * `nextLink`, or CSV with the next cursor in the `x-next-cursor` header), every match as one CSV
 * download, facet counts, one record with its locations, and its owner.
 */
export function registerInventoryRoutes(
  admin: FastifyInstance,
  { inventory }: { inventory: InventoryService },
) {
  admin.get<{ Querystring: Static<typeof Filters> }>(
    "/admin/inventory",
    { schema: { querystring: Filters }, config: { operation: "InventoryList" } },
    async (request, reply) => {
      const { facets, format, ...filters } = request.query;
      const query = inventoryQuery(filters);
      const page = await inventory.list(query);
      const csv =
        format === "csv" || (format === undefined && /\btext\/csv\b/.test(request.headers.accept ?? ""));
      if (csv) {
        if (page.next) reply.header("x-next-cursor", page.next);
        return reply
          .type("text/csv; charset=utf-8")
          .send(`${filters.cursor ? "" : csvHeader()}${page.items.map(csvLine).join("")}`);
      }
      const next = page.next && new URLSearchParams({ ...stringsOf(request.query), cursor: page.next });
      return {
        value: page.items.map(inventoryItem),
        ...(next && { nextLink: `/admin/inventory?${next.toString()}` }),
        ...(facets === "true" && { facets: await inventory.facets(query) }),
      };
    },
  );

  // A browser saves this as a file while it streams, so a million rows never sit in the page's memory.
  admin.get<{ Querystring: Static<typeof Filters> }>(
    "/admin/inventory/export",
    { schema: { querystring: Filters }, config: { operation: "InventoryExport" } },
    async (request, reply) => {
      const { facets: _f, format: _x, limit: _l, cursor: _c, ...filters } = request.query;
      const query = inventoryQuery({ ...filters, limit: String(MAX_PAGE) });
      // Read the largest page the list answers at a time; the first before the answer starts, so a
      // bad filter is still a 400.
      const first = await inventory.list(query);
      async function* csv() {
        yield `${csvHeader()}${first.items.map(csvLine).join("")}`;
        for (let cursor = first.next; cursor; ) {
          const page = await inventory.list({ ...query, cursor });
          yield page.items.map(csvLine).join("");
          cursor = page.next;
        }
      }
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="inventory.csv"')
        .send(Readable.from(csv()));
    },
  );

  admin.get<{ Querystring: Static<typeof Filters> }>(
    "/admin/inventory/facets",
    { schema: { querystring: Filters }, config: { operation: "InventoryFacets" } },
    async (request) => {
      const { facets: _f, format: _x, ...filters } = request.query;
      return inventory.facets(inventoryQuery(filters));
    },
  );

  admin.get<{ Params: { fingerprint: string } }>(
    "/admin/inventory/:fingerprint",
    { config: { operation: "InventoryGet" } },
    async (request) => inventoryItem(await inventory.show(request.params.fingerprint)),
  );

  admin.put<{ Params: { fingerprint: string }; Body: Static<typeof OwnerBody> }>(
    "/admin/inventory/:fingerprint/owner",
    { schema: { body: OwnerBody }, config: { operation: "InventorySetOwner" } },
    async (request) => inventoryItem(await inventory.setOwner(request.params.fingerprint, request.body)),
  );
}

const stringsOf = (query: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
