/** `2026-03-01 14:05 UTC`: one unambiguous form for every time on the dashboard. */
export function utc(iso: string): string {
  return `${iso.slice(0, 16).replace("T", " ")} UTC`;
}

/** `2026-03-01`. */
export const day = (iso: string) => iso.slice(0, 10);

/** Whole days from now until `iso`; negative once it has passed. */
export function daysLeft(iso: string, now = Date.now()): number {
  return Math.floor((Date.parse(iso) - now) / 86_400_000);
}

/** "in 12 days", "today", "3 days ago". */
export function expiresIn(iso: string): string {
  const days = daysLeft(iso);
  if (days === 0) return "today";
  return days > 0 ? `in ${days} day${days === 1 ? "" : "s"}` : `${-days} day${days === -1 ? "" : "s"} ago`;
}
