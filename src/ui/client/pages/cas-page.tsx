import type { caView } from "../../../http/admin/ca-routes.js";
import { api } from "../api.js";
import { LoadFailed } from "../components/status-lines.js";
import { day } from "../format.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

type CaView = ReturnType<typeof caView>;

/** The CAs under `parentId` (roots for undefined) and, nested, theirs: the hierarchy as a tree. */
function Branch({ all, parentId }: { all: CaView[]; parentId: string | undefined }) {
  const children = all.filter((ca) => (ca.parentId ?? undefined) === parentId);
  if (children.length === 0) return null;
  return (
    <ul>
      {children.map((ca) => (
        <li key={ca.id}>
          <Link href={`/ui/cas/${encodeURIComponent(ca.name)}`}>{ca.name}</Link>{" "}
          <span class="muted">
            {ca.kind}, {ca.status}, {ca.keyAlgorithm}
            {ca.notAfter ? `, until ${day(ca.notAfter)}` : ""}
          </span>
          <Branch all={all} parentId={ca.id} />
        </li>
      ))}
    </ul>
  );
}

/** The private CAs as a tree of roots and their intermediates; each links to its page. */
export default function CasPage() {
  const [cas] = useLoad(() => api<{ value: CaView[] }>("GET", "/admin/cas"), "cas");
  const all = cas.state === "done" ? cas.value.value : [];
  // An intermediate whose parent is outside this installation (signed by an outside CA) is a root here.
  const known = new Set(all.map((ca) => ca.id));
  const rooted = all.map((ca) =>
    ca.parentId && known.has(ca.parentId) ? ca : { ...ca, parentId: undefined },
  );

  return (
    <>
      <h2>CAs</h2>
      {cas.state === "loading" && <p role="status">Loading the CAs…</p>}
      <LoadFailed load={cas} />
      {cas.state === "done" &&
        (all.length === 0 ? (
          <p>
            No private CA yet: create one with <code>strongroom ca create-root</code> or the admin API.
          </p>
        ) : (
          <section aria-labelledby="hierarchy-heading" class="tree" id="ca-tree">
            <h3 id="hierarchy-heading">Hierarchy</h3>
            <Branch all={rooted} parentId={undefined} />
          </section>
        ))}
    </>
  );
}
