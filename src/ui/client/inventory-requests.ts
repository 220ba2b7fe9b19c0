// The Inventory page's view and the two API reads it opens with, in the entry bundle rather than
// the page's chunk: the router asks for them at the click or submit, beside the chunk, and the
// server renders the first page from the same paths.

/** The admin API's text filters, each with its label; the query string uses the same names. */
export const TEXT_FILTERS = [
  ["subject", "Subject contains"],
  ["san", "Name (SAN)"],
  ["issuer", "Issuer contains"],
  ["expiringWithin", "Expiring within (e.g. 30d)"],
  ["keyType", "Key type"],
  ["minKeySize", "Minimum key size"],
  ["signatureAlgorithm", "Signature algorithm"],
  ["location", "Location starts with"],
  ["owner", "Owner"],
] as const;
const FILTER_NAMES: string[] = [...TEXT_FILTERS.map(([name]) => name), "source", "expired"];
export const PAGE_SIZES = ["25", "50", "100", "250"];

/** The page's view: the address's query string holds every filter, the sort, page size and cursor. */
export function viewOf(search: URLSearchParams): URLSearchParams {
  const view = new URLSearchParams();
  for (const [name, value] of search) if (value !== "") view.set(name, value);
  return view;
}

/** The page of rows and the facet counts a view shows, as admin API paths. */
export function inventoryPaths(view: URLSearchParams): { list: string; facets: string; facetQuery: string } {
  const list = `/admin/inventory?${new URLSearchParams({ limit: PAGE_SIZES[0] as string, ...Object.fromEntries(view) })}`;
  const facetQuery = new URLSearchParams(
    [...view].filter(([name]) => FILTER_NAMES.includes(name)),
  ).toString();
  return { list, facets: `/admin/inventory/facets?${facetQuery}`, facetQuery };
}
