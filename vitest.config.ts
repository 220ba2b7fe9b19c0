import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most files wait on servers, child processes and databases rather than compute: two workers on
    // the two-core CI machine: a whole fresh-clone CI run took 1,297 s, against 1,599 s with one worker.
    maxWorkers: 2,
  },
});
