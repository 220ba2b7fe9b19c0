// The dashboard's browser entry: compiled by the server's own tsc build into dist/ui/client/ and
// loaded as a native ES module, so the UI needs no bundler and no build step of its own.
import { readiness } from "./readiness.js";

function statusLine(text: string): HTMLElement {
  const line = document.createElement("p");
  line.id = "server-status";
  line.setAttribute("role", "status");
  line.textContent = text;
  return line;
}

async function start(): Promise<void> {
  const main = document.querySelector("main");
  if (!main) return;
  const line = statusLine("Checking the server…");
  main.append(line);
  line.textContent = await readiness(fetch);
}

void start();
