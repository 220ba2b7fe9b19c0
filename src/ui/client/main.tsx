// The dashboard's browser entry, bundled by esbuild (bin/build-ui.js) with one chunk per page.
import "./styles.css";
import { hydrate, render } from "preact";
import { seed } from "./api.js";
import { App } from "./app.js";
import { matchPage, prepare } from "./pages.js";

const url = new URL(window.location.href);
const root = document.getElementById("app");
const answers = document.getElementById("page-reads");
const entry = matchPage(url.pathname)?.entry;
if (root && answers && entry?.load) {
  // The server rendered this page with these answers: the browser takes its markup over with the
  // same answers and the page's module, so the first render matches it and nothing is redrawn.
  seed(JSON.parse(answers.textContent ?? "{}") as Record<string, unknown>);
  const load = entry.load();
  prepare(url);
  void load
    .then(
      (module) => hydrate(<App page={{ entry, Page: module.default }} />, root),
      () => render(<App />, root),
    )
    // The first render has taken what it drew with; a later visit to the same view asks afresh.
    .finally(() => seed({}));
} else if (root) {
  // The page's chunk and its reads start now, not once the App has rendered and asked for them.
  prepare(url);
  render(<App />, root);
}
