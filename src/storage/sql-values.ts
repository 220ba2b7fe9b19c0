import { type RawBuilder, sql } from "kysely";

/** A column of a VALUES list and its SQL type. */
export type ValuesColumn = readonly [name: string, type: "text" | "bigint"];

/**
 * Rows of a VALUES list a statement, for the set-based updates of a batch: at six columns, 3,000
 * bound parameters, far within SQLite's 32,766 and PostgreSQL's 65,535.
 */
export const VALUES_ROWS_PER_STATEMENT = 500;

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
