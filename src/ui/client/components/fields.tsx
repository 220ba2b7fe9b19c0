import { type ComponentChildren, Fragment } from "preact";

/** A record's fields as a description list; rows whose value is undefined or empty are left out. */
export function Fields(props: { id?: string; rows: [string, ComponentChildren][] }) {
  return (
    <dl class="fields" id={props.id}>
      {props.rows
        .filter(([, value]) => value !== undefined && value !== "")
        .map(([label, value]) => (
          <Fragment key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </Fragment>
        ))}
    </dl>
  );
}
