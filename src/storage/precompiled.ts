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

/**
 * A multi-row statement built with `slotRows(columns, rows)`, compiled once, then run with each
 * row's values bound by position. Binding through `precompiled` and `boundRows` looks up every value
 * by its `row.column` name, which for a 200-row insert cost more than SQLite's work.
 */
export function precompiledRows<Row>(query: { compile(): CompiledQuery<Row> }, columns: readonly string[]) {
  const compiled = query.compile();
  const places = compiled.parameters.map((p) => {
    if (typeof p !== "string" || !p.startsWith(MARK)) return undefined;
    const [row, column] = p.slice(MARK.length).split(".");
    return { row: Number(row), column: column as string };
  });
  if (!columns.every((c) => places.some((p) => p?.column === c)))
    throw new Error("precompiledRows: a column has no slot in the query");
  return (executor: Kysely<Database>, rows: readonly Record<string, unknown>[]): Promise<QueryResult<Row>> =>
    executor.executeQuery<Row>({
      ...compiled,
      parameters: places.map((place, i) =>
        place === undefined
          ? compiled.parameters[i]
          : (rows[place.row] as Record<string, unknown>)[place.column],
      ),
    });
}

/**
 * `compile(count)` run once per count and kept: for statements whose shape depends only on a number
 * (rows in a multi-row insert, values in an `in` list).
 */
export function compiledPerCount<T>(compile: (count: number) => T): (count: number) => T {
  const compiled = new Map<number, T>();
  return (count) => {
    let hit = compiled.get(count);
    if (hit === undefined) {
      hit = compile(count);
      compiled.set(count, hit);
    }
    return hit;
  };
}
