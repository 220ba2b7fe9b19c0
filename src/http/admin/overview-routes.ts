import type { FastifyInstance } from "fastify";
import type { Overview, OverviewService } from "../../domain/reports/overview-service.js";

/** The overview as the admin API answers it; the dashboard's Overview page reads this type. */
export function overviewView(o: Overview) {
  return {
    total: o.total,
    expired: o.expired,
    expiringWithin30Days: o.expiringWithin30Days,
    expiringWithin90Days: o.expiringWithin90Days,
    expiryTimeline: o.expiryTimeline,
    openAlertsByKind: o.openAlertsByKind,
    ...(o.violationsByRule !== undefined && { violationsByRule: o.violationsByRule }),
    recentChanges: o.recentChanges.map((r) => ({
      time: r.time.toISOString(),
      operation: r.operation,
      ...(r.principalId !== undefined && { principalId: r.principalId }),
      ...(r.vault !== undefined && { vault: r.vault }),
      ...(r.objectId !== undefined && { objectId: r.objectId }),
    })),
  };
}

export type OverviewView = ReturnType<typeof overviewView>;

/** `GET /admin/overview`: counts, the 90-day expiry timeline, open alerts, violations, recent changes. */
export function registerOverviewRoutes(admin: FastifyInstance, { overview }: { overview: OverviewService }) {
  admin.get("/admin/overview", { config: { operation: "Overview" } }, async () =>
    overviewView(await overview.overview()),
  );
}
