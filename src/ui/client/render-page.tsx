// The server's renderer of the dashboard's pages, bundled for Node by bin/build-ui.js from the same
// components the browser runs, so the first page comes with its rows in the HTML and the browser
// takes that markup over (hydrates) instead of drawing it again.
import { renderToString } from "preact-render-to-string";
import { seed } from "./api.js";
import { App } from "./app.js";
import { matchPage } from "./pages.js";
import { RenderedAt } from "./router.js";

/** The admin API paths the page at `url` is drawn with; none when it is not rendered on the server. */
export function reads(url: URL): string[] {
  return matchPage(url.pathname)?.entry.renderedWith?.(url) ?? [];
}

/**
 * The page at `url` as markup for #app, and its title, drawn with `answers` (the reads, by path)
 * as if the browser had them; undefined when the page has no module to render.
 */
export async function render(
  url: URL,
  answers: Record<string, unknown>,
): Promise<{ title: string; markup: string } | undefined> {
  const entry = matchPage(url.pathname)?.entry;
  if (!entry?.load) return undefined;
  const Page = (await entry.load()).default;
  // Rendering is synchronous, so the answers seeded here are the ones this render takes.
  seed(answers);
  const markup = renderToString(
    <RenderedAt.Provider value={url}>
      <App page={{ entry, Page }} />
    </RenderedAt.Provider>,
  );
  seed({});
  return { title: entry.title, markup };
}
