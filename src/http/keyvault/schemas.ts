import { Type } from "@sinclair/typebox";
import { badParameter } from "../../domain/errors.js";
import { fromUnixSeconds } from "./wire.js";

export const Tags = Type.Record(Type.String(), Type.String());
/**
 * Unix seconds as Key Vault takes them: from the epoch to the end of year 9999. JSON Schema counts
 * 1e300 as an integer, and a Date made of it is invalid, so without the bounds it was stored as null.
 */
export const MAX_UNIX_SECONDS = 253_402_300_799;
const Seconds = Type.Union([Type.Integer({ minimum: 0, maximum: MAX_UNIX_SECONDS }), Type.Null()]);
export const Attributes = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  nbf: Type.Optional(Seconds),
  exp: Type.Optional(Seconds),
  exportable: Type.Optional(Type.Boolean()),
});
export const NameParams = Type.Object({ name: Type.String() });
export const VersionParams = Type.Object({ name: Type.String(), version: Type.String() });
export const RestoreBody = Type.Object({ value: Type.String({ minLength: 1 }) });

/** Unix seconds from the wire, for a create: null and absent both mean "not set". */
export const optionalDate = (seconds: number | null | undefined) =>
  seconds === undefined || seconds === null ? undefined : fromUnixSeconds(seconds);

/** Unix seconds from the wire, for an update: absent keeps the value, null clears it. */
export const changedDate = (seconds: number | null | undefined) =>
  seconds === undefined ? undefined : seconds === null ? null : fromUnixSeconds(seconds);

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** Decodes a base64url field, refusing anything else with a message naming the field. */
export function base64url(field: string, value: string): Buffer {
  if (!BASE64URL.test(value)) throw badParameter(`${field} must be base64url encoded`);
  return Buffer.from(value, "base64url");
}
