import { Type } from "@sinclair/typebox";
import { badParameter } from "../../domain/errors.js";

/**
 * A whole number in a query string. Ajv's type coercion is off for the whole app (Key Vault refuses a
 * number where a string belongs), so a query schema takes digits and the route reads them with
 * `queryNumber`.
 */
export const QueryNumber = Type.String({ pattern: "^[0-9]{1,10}$" });

/** The number a `QueryNumber` field holds, refused (400) outside `min`–`max`. */
export function queryNumber(
  value: string | undefined,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (n < range.min || n > range.max)
    throw badParameter(`${name} must be from ${range.min} to ${range.max}, not ${value}`);
  return n;
}
