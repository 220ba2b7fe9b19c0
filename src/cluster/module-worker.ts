import { Worker } from "node:worker_threads";

const BOOT = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.module);
})();`;

/**
 * A worker thread running the module `name` of the folder of `from` (the caller's import.meta.url):
 * its compiled JavaScript under dist/, its TypeScript under tsx (tests, benchmarks), where a worker
 * thread needs tsx registered before it can load it. `data` is the module's workerData.
 */
export function moduleWorker(from: string, name: string, data: Record<string, unknown> = {}): Worker {
  const fromSource = from.endsWith(".ts");
  return new Worker(BOOT, {
    eval: true,
    workerData: {
      ...data,
      module: new URL(`./${name}.${fromSource ? "ts" : "js"}`, from).href,
      tsx: fromSource ? import.meta.resolve("tsx/esm/api") : undefined,
    },
  });
}
