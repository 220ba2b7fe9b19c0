import { badParameter } from "../errors.js";
import type { LifetimeAction, RotationPolicy } from "./model.js";

// ISO 8601 durations as Key Vault accepts them: P1Y, P90D, P3M, P1Y2M10D, PT12H…
const DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;

/** Key Vault adds this Notify action when a policy has none. */
export const DEFAULT_NOTIFY: LifetimeAction = { timeBeforeExpiry: "P30D", action: "Notify" };

function checkDuration(field: string, value: string | undefined): void {
  if (value !== undefined && !DURATION.test(value)) {
    throw badParameter(`${field} must be an ISO 8601 duration such as P90D or P1Y, got "${value}"`);
  }
}

/** Validates a policy and completes it the way the real service does. */
export function normalizeRotationPolicy(policy: RotationPolicy): RotationPolicy {
  checkDuration("attributes.expiryTime", policy.expiryTime);
  // One Rotate and one Notify at most, so a longer list is refused before it is read.
  if (policy.lifetimeActions.length > 2)
    throw badParameter(`lifetimeActions may hold at most 2 actions, not ${policy.lifetimeActions.length}`);
  const seen = new Set<string>();
  for (const action of policy.lifetimeActions) {
    if (action.action !== "Rotate" && action.action !== "Notify") {
      throw badParameter(
        `lifetimeActions[].action.type must be "Rotate" or "Notify", got "${String(action.action)}"`,
      );
    }
    if (seen.has(action.action))
      throw badParameter(`A rotation policy may have one ${action.action} action, not more`);
    seen.add(action.action);
    const triggers = [action.timeAfterCreate, action.timeBeforeExpiry].filter((t) => t !== undefined);
    if (triggers.length !== 1) {
      throw badParameter(
        "Each lifetime action needs exactly one trigger: timeAfterCreate or timeBeforeExpiry",
      );
    }
    checkDuration("trigger.timeAfterCreate", action.timeAfterCreate);
    checkDuration("trigger.timeBeforeExpiry", action.timeBeforeExpiry);
    if (action.action === "Notify" && action.timeAfterCreate !== undefined) {
      throw badParameter("A Notify action must use timeBeforeExpiry");
    }
  }
  const lifetimeActions = seen.has("Notify")
    ? policy.lifetimeActions
    : [...policy.lifetimeActions, DEFAULT_NOTIFY];
  return { ...policy, lifetimeActions };
}
