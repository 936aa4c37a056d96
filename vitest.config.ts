import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e suites start real Envoy/OpenBao processes; keep files in parallel but bounded on 2 cores.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
