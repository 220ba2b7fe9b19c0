import { type RawBuilder, sql } from "kysely";

/** A column of a VALUES list and its SQL type. */
export type ValuesColumn = readonly [name: string, type: "text" | "bigint"];

/**
 * Rows of a VALUES list a statement, for the set-based updates of a batch. Without statistics
 * SQLite's planner turns the join around from about 200 rows on: it scans the whole target table
 * and looks each row up in the list (`SCAN ca_issued … SEARCH new_status USING AUTOMATIC INDEX`),
 * which took a 256-item campaign batch 90-107 µs a row against 6-8 µs at 64 on a table of 100,000.
 * Below that it searches the table's index for each listed row, as PostgreSQL does.
 */
export const VALUES_ROWS_PER_STATEMENT = 128;

/**
 * `name(columns) as (values …)`, a common table expression holding `rows`, for `with … update … from
 * name` (SQLite ≥ 3.33 and PostgreSQL both take it). Each value is cast to its column's type: on
 * PostgreSQL a VALUES list's parameters are otherwise text, which a bigint column will not take.
 */
export function valuesTable(
  name: string,
  columns: readonly ValuesColumn[],
  rows: readonly (readonly unknown[])[],
): RawBuilder<unknown> {
  const row = (values: readonly unknown[]) =>
    sql`(${sql.join(values.map((value, i) => sql`cast(${value} as ${sql.raw((columns[i] as ValuesColumn)[1])})`))})`;
  return sql`${sql.id(name)}(${sql.join(columns.map(([column]) => sql.id(column)))}) as (values ${sql.join(rows.map(row))})`;
}
