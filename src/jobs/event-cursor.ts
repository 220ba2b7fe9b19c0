import type { SettingsStore } from "../domain/bootstrap/ports.js";

/**
 * Where a job that reads the event outbox left off, kept in a setting. A new installation starts at
 * the outbox's end: it acts on what happens from now on, not on old history.
 */
export async function eventCursorAt(
  settings: Pick<SettingsStore, "get" | "putIfAbsent">,
  events: { latestSeq(): Promise<number> },
  setting: string,
): Promise<number> {
  const saved = await settings.get(setting);
  if (saved) return Number(saved.value);
  return Number((await settings.putIfAbsent(setting, String(await events.latestSeq()))).value);
}
