import type { CertificatePolicy, LifetimeActionType } from "./model.js";

const DAY_MS = 86_400_000;

/**
 * When a lifetime action of a version falls due: at a percentage of the way from nbf to exp, or a
 * number of days before exp. Undefined when the policy has no such action.
 */
export function lifetimeActionDueAt(
  policy: Pick<CertificatePolicy, "lifetimeActions">,
  action: LifetimeActionType,
  notBefore: Date,
  expiresAt: Date,
): Date | undefined {
  const found = policy.lifetimeActions.find((a) => a.action === action);
  if (!found) return undefined;
  if (found.lifetimePercentage !== undefined) {
    const lifetime = expiresAt.getTime() - notBefore.getTime();
    return new Date(notBefore.getTime() + (lifetime * found.lifetimePercentage) / 100);
  }
  return new Date(expiresAt.getTime() - (found.daysBeforeExpiry ?? 0) * DAY_MS);
}
