// Keeps the A/B phase working (`npm run bench -- --only ab --baseline <dist folder>`): in smoke mode, this checkout's
// dist/ against itself, each behind its own real Envoy in the same window. Checks that both builds answered every
// request and that the row carries a ratio per window; no timing is asserted.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Row } from "../../scripts/bench/report.js";
import { repoRoot } from "../support/tools.js";

let dir: string;
let report: { rows: Row[]; failures: string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-bench-ab-"));
  const json = join(dir, "ab.json");
  const tsx = join(repoRoot, "node_modules/tsx/dist/cli.mjs");
  // Reads dist/ (npm test builds first); writes no document without --out.
  await promisify(execFile)(process.execPath, [tsx, "scripts/bench.ts", "--smoke", "--only", "ab", "--baseline", join(repoRoot, "dist"), "--json", json], {
    cwd: repoRoot,
    timeout: 200_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`bench --only ab failed: ${err.message}\n${err.stderr ?? ""}`);
  });
  report = JSON.parse(await readFile(json, "utf8")) as typeof report;
}, 220_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm run bench -- --only ab --baseline <dist>", () => {
  it("loads both builds in the same windows and reports a CPU ratio per window, every answer an allow", () => {
    expect(report.failures).toEqual([]);
    const rows = report.rows.filter((r) => r.section === "ab");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toMatch(/^\d\.\d{3}× \(per window \d\.\d{3}, \d\.\d{3}\); this build \d+ µs\/req .* 0 errors$/);
  });

  it("refuses --only ab without a baseline, and a baseline without --only ab", async () => {
    const tsx = join(repoRoot, "node_modules/tsx/dist/cli.mjs");
    for (const args of [["--only", "ab"], ["--baseline", "dist"]]) {
      const failed = await promisify(execFile)(process.execPath, [tsx, "scripts/bench.ts", ...args], { cwd: repoRoot, timeout: 60_000 }).then(
        () => undefined,
        (err: Error & { code?: number; stderr?: string }) => err,
      );
      expect(failed?.code).toBe(2);
      expect(failed?.stderr).toContain("--only ab and --baseline <dist folder> go together");
    }
  });
});
