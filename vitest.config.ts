import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * restic 0.18 from Debian 13, unpacked by `make deps` (scripts/debian-trixie.sh); the system's
 * restic (0.14 on Debian 12) stays the default.
 */
const RESTIC_018_DIR = resolve(".cache/debian-trixie/root/usr/bin");

/**
 * The suites that drive restic run a second time against 0.18 (restic first on PATH, so the
 * built CLI, the fixtures and every `restic` a test runs are that binary). Only these: the
 * rest (config, kopia, replication, schedule, notify) never touch restic, and a second run of
 * them would only cost time.
 */
const RESTIC_SUITES = [
  "src/engine/restic/**/*.test.ts",
  "src/databases/*.test.ts",
  "src/check/*.test.ts",
  "test/backup.e2e.test.ts",
  "test/cli.e2e.test.ts",
  "test/check.e2e.test.ts",
  "test/databases.e2e.test.ts",
  "test/failure-matrix.e2e.test.ts",
  "test/failures.e2e.test.ts",
  "test/hooks.e2e.test.ts",
  "test/ignore.e2e.test.ts",
  "test/locks.e2e.test.ts",
  "test/point-in-time.e2e.test.ts",
  "test/remote.e2e.test.ts",
  "test/retention.e2e.test.ts",
  "test/signals.e2e.test.ts",
  "test/zfs.e2e.test.ts",
  "test/serve.e2e.test.ts",
  "test/dbus.e2e.test.ts",
  "test/run-failures.e2e.test.ts",
  "test/output.e2e.test.ts",
  "test/extra-args.e2e.test.ts",
  "test/inspect.e2e.test.ts",
];

// Tests drive real loop devices, mount namespaces and restic; they run serially in one
// process so that two suites never fight over the same kernel resources. The two restic
// versions run one after the other for the same reason (see README, "Tests").
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ["test/global-setup.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "restic-system",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          // Different group orders: the projects run one after the other, never together.
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "restic-0.18",
          include: RESTIC_SUITES,
          sequence: { groupOrder: 1 },
          env: {
            SNAPBACK_TEST_RESTIC: resolve(RESTIC_018_DIR, "restic"),
            PATH: `${RESTIC_018_DIR}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
          },
        },
      },
    ],
  },
});
