import { signedInUser } from "./api.js";

export interface SavedView {
  name: string;
  /** The inventory's query string, as the address shows it. */
  query: string;
}

// Saved in this browser's storage, under the signed-in user's name, so people sharing a browser
// profile keep their own views.
const key = () => `strongroom.inventory-views.${signedInUser()}`;

export function savedViews(): SavedView[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(key()) ?? "[]") as unknown;
    return Array.isArray(parsed)
      ? parsed.filter((v): v is SavedView => typeof v?.name === "string" && typeof v?.query === "string")
      : [];
  } catch {
    return [];
  }
}

/** Saves (or replaces, by name) a view and returns the list as stored. */
export function saveView(view: SavedView): SavedView[] {
  const views = [...savedViews().filter((v) => v.name !== view.name), view].sort((a, b) =>
    a.name.localeCompare(b.name),
  );
  localStorage.setItem(key(), JSON.stringify(views));
  return views;
}

export function deleteView(name: string): SavedView[] {
  const views = savedViews().filter((v) => v.name !== name);
  localStorage.setItem(key(), JSON.stringify(views));
  return views;
}
