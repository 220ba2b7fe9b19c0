import type { Clock } from "../clock.js";
import { badParameter } from "../errors.js";
import type { InventoryService } from "../inventory/inventory-service.js";
import { type PostureFacts, postureReport } from "./posture.js";
import { POSTURE_FORMATS, type PostureFormat, renderPosture } from "./posture-formats.js";

export type PostureService = ReturnType<typeof createPostureService>;

/** Posture reports over the whole inventory, rendered as JSON, CSV or a printable HTML page. */
export function createPostureService({
  inventory,
  violationsByRule,
  clock,
}: {
  inventory: Pick<InventoryService, "list">;
  violationsByRule: PostureFacts["violationsByRule"];
  clock: Clock;
}) {
  const facts: PostureFacts = {
    async *records() {
      let cursor: string | undefined;
      do {
        const page = await inventory.list({ limit: 1000, cursor });
        yield* page.items;
        cursor = page.next;
      } while (cursor);
    },
    violationsByRule,
  };
  return {
    report: () => postureReport(facts, clock.now()),
    async render(format: string | undefined) {
      const f = (format ?? "json").toLowerCase();
      if (!POSTURE_FORMATS.includes(f as PostureFormat))
        throw badParameter(`format must be one of ${POSTURE_FORMATS.join(", ")}`);
      return renderPosture(await postureReport(facts, clock.now()), f as PostureFormat);
    },
  };
}
