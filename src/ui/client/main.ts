// The dashboard's browser entry: compiled by the server's own tsc build into dist/ui/client/ and
// loaded as a native ES module, so the UI needs no bundler and no build step of its own.
import { readiness } from "./readiness.js";
import { vaultsPage } from "./vaults-page.js";

function statusLine(text: string): HTMLElement {
  const line = document.createElement("p");
  line.id = "server-status";
  line.setAttribute("role", "status");
  line.textContent = text;
  return line;
}

async function overview(main: HTMLElement): Promise<void> {
  const heading = document.createElement("h2");
  heading.textContent = "Overview";
  const line = statusLine("Checking the server…");
  main.replaceChildren(heading, line);
  line.textContent = await readiness(fetch);
}

async function start(): Promise<void> {
  const main = document.querySelector("main");
  if (!main) return;
  const path = window.location.pathname.replace(/\/+$/, "");
  for (const link of Array.from(document.querySelectorAll<HTMLAnchorElement>("nav a"))) {
    if (new URL(link.href).pathname.replace(/\/+$/, "") === path) link.setAttribute("aria-current", "page");
  }
  if (path === "/ui/vaults") return vaultsPage(main);
  return overview(main);
}

void start();
