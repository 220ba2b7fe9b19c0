import type { Caller } from "./model.js";

/** What a caller asks to do: an action name and the scope it acts on, e.g. `/vaults/default/secrets/db`. */
export interface AccessRequest {
  action: string;
  scope: string;
}

/**
 * The single authorization decision point. Until role assignments exist every authenticated
 * principal of this installation is allowed; the decision is returned so it can be audited.
 */
export function authorize(caller: Caller, request: AccessRequest): { allowed: true; rule: string } {
  void caller;
  void request;
  return { allowed: true, rule: "authenticated-principal" };
}
