import { badParameter } from "../errors.js";

const COLLECTIONS = new Set(["secrets", "keys", "certificates"]);

/**
 * A role assignment's scope in canonical form (lower case, no trailing slash): `/` for the
 * installation, `/vaults/{vault}`, `/vaults/{vault}/{secrets|keys|certificates}/{name}`, or
 * `/cas/{ca}` for what is decided per private CA (its sign requests' approvals).
 */
export function canonicalScope(scope: string): string {
  const trimmed = scope.trim().toLowerCase().replace(/\/+$/, "");
  if (trimmed === "") return "/";
  if (/^\/cas\/[a-z0-9-]{1,127}$/.test(trimmed)) return trimmed;
  const parts = trimmed.split("/");
  const [empty, vaults, vault, collection, name, ...rest] = parts;
  const valid =
    empty === "" &&
    vaults === "vaults" &&
    vault !== undefined &&
    /^[a-z0-9-]{1,24}$/.test(vault) &&
    (collection === undefined ||
      (COLLECTIONS.has(collection) && name !== undefined && /^[a-z0-9-]{1,127}$/.test(name))) &&
    rest.length === 0;
  if (!valid) {
    throw badParameter(
      `Scope "${scope}" is invalid: use "/", "/vaults/{vault}", "/vaults/{vault}/{secrets|keys|certificates}/{name}" or "/cas/{ca}"`,
    );
  }
  return trimmed;
}
