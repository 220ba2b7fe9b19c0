import type { ComponentChildren, JSX } from "preact";

/**
 * A label and the text input it names (joined by id and for). Autocomplete is off unless given:
 * these fields take names and values of this installation, which a browser's history only muddles.
 */
export function TextField(
  props: {
    id: string;
    label: ComponentChildren;
    value: string;
    onValue: (value: string) => void;
  } & Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "id" | "label" | "value" | "onInput">,
) {
  const { id, label, value, onValue, ...input } = props;
  return (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        autocomplete="off"
        {...input}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
    </>
  );
}

/** An option whose text differs from its value. */
export type Choice = { value: string; text: string };

/** A label and the select it names; an option given as a plain string is its own text. */
export function SelectField(props: {
  id: string;
  label: ComponentChildren;
  value: string;
  options: readonly (string | Choice)[];
  onValue: (value: string) => void;
}) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onValue(e.currentTarget.value)}>
        {props.options.map((o) => {
          const { value, text } = typeof o === "string" ? { value: o, text: o } : o;
          return (
            <option key={value} value={value}>
              {text}
            </option>
          );
        })}
      </select>
    </>
  );
}
