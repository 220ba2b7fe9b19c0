import type { Clock } from "../clock.js";
import { badParameter } from "../errors.js";
import { type InventoryService, MAX_PAGE } from "../inventory/inventory-service.js";
import { type PostureFacts, postureReport, postureStream } from "./posture.js";
import { POSTURE_FORMATS, type PostureFormat, renderPosture } from "./posture-formats.js";

export type PostureService = ReturnType<typeof createPostureService>;

/** Posture reports over the whole inventory, rendered as JSON, CSV or a printable HTML page as they are read. */
export function createPostureService({
  inventory,
  violationsByRule,
  clock,
}: {
  inventory: Pick<InventoryService, "list">;
  violationsByRule: PostureFacts["violationsByRule"];
  clock: Clock;
}) {
  async function* pages(sort: "notAfter" | "-notAfter") {
    let cursor: string | undefined;
    do {
      const page = await inventory.list({ limit: MAX_PAGE, sort, cursor });
      yield* page.items;
      cursor = page.next;
    } while (cursor);
  }
  const facts: PostureFacts = {
    records: () => pages("notAfter"),
    latestExpiryFirst: () => pages("-notAfter"),
    violationsByRule,
  };
  return {
    report: () => postureReport(facts, clock.now()),
    async render(format: string | undefined) {
      const f = (format ?? "json").toLowerCase();
      if (!POSTURE_FORMATS.includes(f as PostureFormat))
        throw badParameter(`format must be one of ${POSTURE_FORMATS.join(", ")}`);
      return renderPosture(await postureStream(facts, clock.now()), f as PostureFormat);
    },
  };
}
