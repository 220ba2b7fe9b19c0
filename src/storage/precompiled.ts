import type { CompiledQuery, Kysely, QueryResult } from "kysely";
import type { Database } from "./schema.js";

// No value a caller stores begins with NUL.
const MARK = "\u0000slot:";

/** Stands in for the value named `name` in a query given to `precompiled`. */
export const slot = (name: string): string => `${MARK}${name}`;

/**
 * A query that Kysely builds and compiles once, with `slot(name)` wherever a run's own value goes,
 * then runs as compiled SQL with each run's values bound in their place. Building and compiling a
 * query costs Kysely 5-17 us hot and several times that between requests; the data-plane reads
 * and the statements of an issued certificate are the same few shapes every time.
 */
export function precompiled<Row, Name extends string>(query: { compile(): CompiledQuery<Row> }) {
  const compiled = query.compile();
  const names = compiled.parameters.map((p) =>
    typeof p === "string" && p.startsWith(MARK) ? (p.slice(MARK.length) as Name) : undefined,
  );
  return (executor: Kysely<Database>, values: Record<Name, unknown>): Promise<QueryResult<Row>> =>
    executor.executeQuery<Row>({
      ...compiled,
      parameters: names.map((name, i) => (name === undefined ? compiled.parameters[i] : values[name])),
    });
}

/** `rows` rows of slots for `columns`, for a multi-row insert: slot names are `row.column`. */
export function slotRows(columns: readonly string[], rows: number): Record<string, string>[] {
  return Array.from({ length: rows }, (_, row) =>
    Object.fromEntries(columns.map((column) => [column, slot(`${row}.${column}`)])),
  );
}

/** The values of `rows` under the slot names slotRows gives them. */
export function boundRows(rows: readonly Record<string, unknown>[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  rows.forEach((row, i) => {
    for (const [column, value] of Object.entries(row)) values[`${i}.${column}`] = value;
  });
  return values;
}
