import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@": path.resolve(import.meta.dirname),
      // "server-only" throws outside Next's server bundle; tests are server code.
      "server-only": path.resolve(import.meta.dirname, "tests/fixtures/server-only.ts"),
    },
  },
  test: {
    projects: [
      { extends: true, test: { name: "unit", include: ["lib/**/*.test.ts", "components/**/*.test.ts", "scripts/**/*.test.ts"], environment: "node" } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts", "tests/security/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Files share one Redis and PostgreSQL server; each test owns its own namespace. Three at
          // once on two cores: most files wait on sandboxes, servers and timers rather than compute,
          // and the escape suite is three files (one per sandbox configuration) of about a minute.
          fileParallelism: true,
          maxWorkers: 3,
        },
      },
      {
        extends: true,
        test: {
          // Drills that load both cores on purpose (several runner processes grading at once):
          // alone, so they neither starve nor are starved by timing-sensitive tests.
          name: "drills",
          include: ["tests/drills/**/*.test.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
