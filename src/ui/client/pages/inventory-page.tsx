import { useEffect, useState } from "preact/hooks";
import type { Facets } from "../../../domain/inventory/model.js";
import type { inventoryItem } from "../../../http/admin/inventory-wire.js";
import { api, takeSeed } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { TextField } from "../components/form-fields.js";
import { LoadFailed } from "../components/status-lines.js";
import { day, expiresIn } from "../format.js";
import { inventoryPaths, PAGE_SIZES, TEXT_FILTERS, viewOf } from "../inventory-requests.js";
import type { PageProps } from "../pages.js";
import { Link, navigate } from "../router.js";
import { deleteView, type SavedView, savedViews, saveView } from "../saved-views.js";
import { useLoad } from "../use-load.js";

export type InventoryItem = ReturnType<typeof inventoryItem>;
type RowsPage = { value: InventoryItem[]; nextLink?: string };

const SOURCES = ["tls", "file", "vault", "akv", "ca", "acme"];

const withoutPaging = (view: URLSearchParams) => {
  const copy = new URLSearchParams(view);
  copy.delete("cursor");
  return copy;
};

function goTo(view: URLSearchParams): void {
  const query = view.toString();
  navigate(`/ui/inventory${query ? `?${query}` : ""}`);
}

/** Search over the whole inventory, paged on the server, with facet counts and CSV export. */
export default function InventoryPage({ url }: PageProps) {
  const view = viewOf(url.searchParams);
  const query = view.toString();
  const paths = inventoryPaths(view);
  const { facetQuery } = paths;
  const [page] = useLoad(
    () => api<RowsPage>("GET", paths.list),
    query,
    () => takeSeed<RowsPage>(paths.list),
  );
  const [facets] = useLoad(() => api<Facets>("GET", paths.facets), facetQuery);
  const sort = view.get("sort") ?? "notAfter";

  const sortBy = (wanted: string) => {
    const next = withoutPaging(view);
    next.set("sort", wanted);
    goTo(next);
  };

  return (
    <>
      <h2>Inventory</h2>
      <Filters key={facetQuery} view={view} />
      <Views query={withoutPaging(view).toString()} />
      <FacetCounts facets={facets.state === "done" ? facets.value : undefined} />
      <LoadFailed load={page} />
      {page.state === "loading" && <p role="status">Loading…</p>}
      {page.state === "done" && (
        <>
          {/* data-query names the view these rows answer, so a test or benchmark can wait for them. */}
          <DataTable
            id="inventory"
            busy={page.key !== query}
            query={page.key}
            caption={`Certificates${page.value.value.length === 0 ? ": none match" : ""}`}
            visibleCaption
            headers={[
              {
                label: "Subject",
                sort: sort === "subject" ? "ascending" : undefined,
                onSort: () => sortBy("subject"),
              },
              "Issuer",
              {
                label: "Expires",
                sort: sort === "notAfter" ? "ascending" : sort === "-notAfter" ? "descending" : undefined,
                onSort: () => sortBy(sort === "notAfter" ? "-notAfter" : "notAfter"),
              },
              "Key",
              "Sources",
            ]}
          >
            {page.value.value.map((c) => (
              <tr key={c.fingerprintSha256}>
                <td class="wrap">
                  <Link href={`/ui/inventory/${c.fingerprintSha256}`}>{c.subject || "(no subject)"}</Link>
                </td>
                <td class="wrap">{c.issuer}</td>
                <td>
                  {day(c.notAfter)} ({expiresIn(c.notAfter)})
                </td>
                <td>
                  {c.keyType} {c.keySize ?? c.curve ?? ""}
                </td>
                <td>{[...new Set(c.locations.filter((l) => !l.goneAt).map((l) => l.source))].join(", ")}</td>
              </tr>
            ))}
          </DataTable>
          <Paging view={view} next={page.value.nextLink} />
        </>
      )}
    </>
  );
}

function Filters({ view }: { view: URLSearchParams }) {
  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const [name, value] of form)
      if (typeof value === "string" && value.trim() !== "") next.set(name, value.trim());
    goTo(next);
  };
  // Before the scripts run (or without them) the form is a plain GET of this page, which the
  // server renders with the rows for it; the sort and page size ride along as hidden fields.
  return (
    <form class="filters" aria-label="Filters" method="get" action="/ui/inventory" onSubmit={apply}>
      {["sort", "limit"].map((kept) => {
        const value = view.get(kept);
        return value && <input key={kept} type="hidden" name={kept} value={value} />;
      })}
      {TEXT_FILTERS.map(([name, label]) => (
        <label key={name}>
          {label}
          <input name={name} defaultValue={view.get(name) ?? ""} autocomplete="off" />
        </label>
      ))}
      <label>
        Source
        <select name="source" defaultValue={view.get("source") ?? ""}>
          <option value="">any</option>
          {SOURCES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Expired
        <select name="expired" defaultValue={view.get("expired") ?? ""}>
          <option value="">either</option>
          <option value="true">expired</option>
          <option value="false">not expired</option>
        </select>
      </label>
      <div class="row">
        <button type="submit">Apply filters</button>
        <button type="button" onClick={() => navigate("/ui/inventory")}>
          Clear
        </button>
      </div>
    </form>
  );
}

function FacetCounts({ facets }: { facets: Facets | undefined }) {
  if (!facets) return <p id="match-count">Counting…</p>;
  const list = (title: string, rows: { value: string; count: number }[]) => (
    <div>
      <h3 id={`facet-${title}`}>{title}</h3>
      <ul aria-labelledby={`facet-${title}`}>
        {rows.slice(0, 6).map((r) => (
          <li key={r.value}>
            {r.value}: {r.count}
          </li>
        ))}
      </ul>
    </div>
  );
  return (
    <section aria-label="Facet counts">
      <p id="match-count" role="status">
        {facets.total === 1 ? "1 certificate matches" : `${facets.total} certificates match`} ·{" "}
        {facets.expiry.expired} expired · {facets.expiry.within30Days} expire within 30 days ·{" "}
        {facets.expiry.within90Days} within 90 days
      </p>
      <details>
        <summary>Counts by key, source, signature and issuer</summary>
        <div class="facets">
          {list("Key", facets.keyType)}
          {list("Source", facets.source)}
          {list("Signature", facets.signatureAlgorithm)}
          {list("Issuer", facets.issuer)}
        </div>
      </details>
    </section>
  );
}

function Paging({ view, next }: { view: URLSearchParams; next: string | undefined }) {
  const cursor = next && new URLSearchParams(next.slice(next.indexOf("?") + 1)).get("cursor");
  const size = view.get("limit") ?? PAGE_SIZES[0];

  return (
    <div class="row">
      {view.has("cursor") && (
        <button type="button" onClick={() => goTo(withoutPaging(view))}>
          First page
        </button>
      )}
      {cursor && (
        <button
          type="button"
          onClick={() => {
            const following = new URLSearchParams(view);
            following.set("cursor", cursor);
            goTo(following);
          }}
        >
          Next page
        </button>
      )}
      <label>
        Rows per page{" "}
        <select
          value={size}
          onChange={(e) => {
            const resized = withoutPaging(view);
            resized.set("limit", e.currentTarget.value);
            goTo(resized);
          }}
        >
          {PAGE_SIZES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      {/* A plain download: the browser saves the server's stream of every match to a file. */}
      <a href={`/admin/inventory/export?${withoutPaging(view)}`} download="inventory.csv">
        Export CSV
      </a>
    </div>
  );
}

function Views({ query }: { query: string }) {
  const [views, setViews] = useState<SavedView[]>([]);
  const [name, setName] = useState("");
  useEffect(() => setViews(savedViews()), []);
  return (
    <section aria-labelledby="views-heading" class="row">
      <h3 id="views-heading" class="visually-hidden">
        Saved views
      </h3>
      {views.map((v) => (
        <span key={v.name}>
          <Link href={`/ui/inventory${v.query ? `?${v.query}` : ""}`}>{v.name}</Link>{" "}
          <button
            type="button"
            aria-label={`Delete view ${v.name}`}
            onClick={() => setViews(deleteView(v.name))}
          >
            ×
          </button>
        </span>
      ))}
      <form
        class="row"
        onSubmit={(event) => {
          event.preventDefault();
          if (name.trim()) setViews(saveView({ name: name.trim(), query }));
          setName("");
        }}
      >
        <TextField id="view-name" label="Save this view as" value={name} onValue={setName} />
        <button type="submit">Save view</button>
      </form>
    </section>
  );
}
