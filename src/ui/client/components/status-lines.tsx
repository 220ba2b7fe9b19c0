import type { Loaded } from "../use-load.js";

/**
 * The sentence an action ended with, in a live region so screen readers read it when it changes;
 * `inline` for one beside its button in a row.
 */
export function Outcome(props: { id?: string; class?: string; inline?: boolean; text: string }) {
  const Line = props.inline ? "span" : "p";
  return (
    <Line id={props.id} class={props.class} role="status">
      {props.text}
    </Line>
  );
}

/** Why a load failed, as an alert; nothing while it runs or once it is done. */
export function LoadFailed(props: { load: Loaded<unknown> }) {
  return props.load.state === "failed" ? <p role="alert">{props.load.message}</p> : null;
}
