import type { FastifyRequest } from "fastify";
import { badParameter } from "../../domain/errors.js";
import type { Page } from "../../domain/paging.js";

export interface ListQuery {
  after: string | undefined;
  maxResults: number | undefined;
}

/** Reads `maxresults` and the `$skiptoken` continuation (base64url of the store's cursor). */
export function listQuery(request: FastifyRequest): ListQuery {
  const query = request.query as Record<string, string | undefined>;
  const raw = query.maxresults;
  let maxResults: number | undefined;
  if (raw !== undefined && raw !== "") {
    if (!/^\d+$/.test(raw)) throw badParameter(`maxresults must be an integer from 1 to 25, got "${raw}"`);
    maxResults = Number(raw);
  }
  const token = query.$skiptoken;
  return { after: token ? Buffer.from(token, "base64url").toString("utf8") : undefined, maxResults };
}

/** `{ value, nextLink }` with an absolute nextLink the SDK fetches as-is (keyvault-api.md §1). */
export function listResponse<T, W>(
  request: FastifyRequest,
  baseUrl: string,
  page: Page<T>,
  map: (item: T) => W,
): { value: W[]; nextLink: string | null } {
  let nextLink: string | null = null;
  if (page.next !== undefined) {
    const url = new URL(request.url, baseUrl);
    url.searchParams.set("$skiptoken", Buffer.from(page.next, "utf8").toString("base64url"));
    nextLink = url.toString();
  }
  return { value: page.items.map(map), nextLink };
}
