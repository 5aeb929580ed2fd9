import { defineConfig } from "vitest/config";

// Tests drive real loop devices, mount namespaces and restic; they run serially in one
// process so that two suites never fight over the same kernel resources.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ["test/global-setup.ts"],
  },
});
