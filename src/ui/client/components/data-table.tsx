import type { ComponentChildren } from "preact";

/** A table with a caption for screen readers, one column header per name, and its rows as children. */
export function DataTable(props: {
  id: string;
  caption: string;
  headers: string[];
  children: ComponentChildren;
}) {
  return (
    <table id={props.id}>
      <caption class="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          {props.headers.map((h) => (
            <th scope="col" key={h}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}
