import type { ComponentChildren } from "preact";

/** A column header whose button re-sorts the rows; `sort` says how they are sorted by it now, if they are. */
export type SortHeader = { label: string; sort: "ascending" | "descending" | undefined; onSort: () => void };

/**
 * A table with one column header per name and its rows as children. The caption is for screen
 * readers unless `visibleCaption`; `busy` and `query` become aria-busy and data-query, which a
 * table whose rows answer a changing query sets so tests and benchmarks can wait for its rows.
 */
export function DataTable(props: {
  id?: string;
  class?: string;
  caption: string;
  visibleCaption?: boolean;
  headers: (string | SortHeader)[];
  busy?: boolean;
  query?: string;
  children: ComponentChildren;
}) {
  return (
    <table id={props.id} class={props.class} aria-busy={props.busy} data-query={props.query}>
      <caption class={props.visibleCaption ? undefined : "visually-hidden"}>{props.caption}</caption>
      <thead>
        <tr>
          {props.headers.map((h) =>
            typeof h === "string" ? (
              <th scope="col" key={h}>
                {h}
              </th>
            ) : (
              <th scope="col" key={h.label} aria-sort={h.sort}>
                <button type="button" onClick={h.onSort}>
                  {h.label}
                </button>
              </th>
            ),
          )}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}
