import type { AlertService } from "../alerts/alert-service.js";
import type { AuditService } from "../audit/audit-service.js";
import type { AuditRecord } from "../audit/model.js";
import type { InventoryService } from "../inventory/inventory-service.js";
import type { PostureFacts, ViolationCount } from "./posture.js";

/** Days the expiry timeline covers, today included. */
export const TIMELINE_DAYS = 90;
/** Changes listed as recent activity. */
export const RECENT_CHANGES = 15;

export interface Overview {
  total: number;
  expired: number;
  expiringWithin30Days: number;
  expiringWithin90Days: number;
  /** One entry per UTC day, today first. */
  expiryTimeline: { date: string; count: number }[];
  openAlertsByKind: { kind: string; count: number }[];
  /** Undefined where the findings table does not exist yet. */
  violationsByRule: ViolationCount[] | undefined;
  recentChanges: AuditRecord[];
}

export type OverviewService = ReturnType<typeof createOverviewService>;

/**
 * The dashboard's first page in one call: every figure comes from counts the stores keep or from
 * small grouped queries, so the page costs the same with a million certificates as with ten.
 */
export function createOverviewService(deps: {
  inventory: Pick<InventoryService, "facets" | "expiryTimeline">;
  alerts: Pick<AlertService, "openByKind">;
  violationsByRule: PostureFacts["violationsByRule"];
  audit: Pick<AuditService, "recentChanges">;
}) {
  return {
    async overview(): Promise<Overview> {
      const [facets, expiryTimeline, openAlertsByKind, violationsByRule, recentChanges] = await Promise.all([
        deps.inventory.facets({}),
        deps.inventory.expiryTimeline(TIMELINE_DAYS),
        deps.alerts.openByKind(),
        deps.violationsByRule(),
        deps.audit.recentChanges(RECENT_CHANGES),
      ]);
      return {
        total: facets.total,
        expired: facets.expiry.expired,
        expiringWithin30Days: facets.expiry.within30Days,
        expiringWithin90Days: facets.expiry.within90Days,
        expiryTimeline,
        openAlertsByKind,
        violationsByRule,
        recentChanges,
      };
    },
  };
}
