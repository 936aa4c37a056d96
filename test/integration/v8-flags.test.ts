/**
 * src/runtime/v8-flags.ts: V8 really stops pretenuring allocation sites in a process that loads it (measured with
 * V8's own trace on a workload that makes V8 pretenure), a flag on node's command line still wins, and both entry
 * points load it before anything else.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { flagsToApply, V8_FLAGS } from "../../src/runtime/v8-flags.js";
import { repoRoot } from "../support/tools.js";

const run = promisify(execFile);
const FLAGS_MODULE = join(repoRoot, "dist/runtime/v8-flags.js");

// 300,000 object literals from one site, all kept: with a 1 MB young generation V8 decides to pretenure the site.
const WORKLOAD = "const keep = []; const mk = (i) => ({ a: i, b: i + 1 }); for (let i = 0; i < 3e5; i++) keep.push(mk(i)); console.log(keep.length);";

/** V8's "=> tenure" decisions in a process running WORKLOAD with these node options. */
async function tenureDecisions(nodeOptions: string[]): Promise<number> {
  const { stdout } = await run(process.execPath, ["--max-semi-space-size=1", "--trace-pretenuring-statistics", ...nodeOptions, "-e", WORKLOAD], { timeout: 30_000 });
  expect(stdout.trim().split("\n").pop()).toBe("300000");
  return stdout.split("\n").filter((l) => l.includes("=> tenure")).length;
}

describe("allocation-site pretenuring", () => {
  it("is what V8 does with this workload by default, and stops once the module is loaded", async () => {
    expect(await tenureDecisions([])).toBeGreaterThan(0);
    expect(await tenureDecisions([`--import=${FLAGS_MODULE}`])).toBe(0);
  });

  it("stays on when node's command line asks for it", async () => {
    expect(await tenureDecisions(["--allocation-site-pretenuring", `--import=${FLAGS_MODULE}`])).toBeGreaterThan(0);
  });

  it("is switched off by the first import of both entry points", async () => {
    for (const entry of ["src/main.ts", "src/cluster/worker-main.ts"]) {
      const firstImport = (await readFile(join(repoRoot, entry), "utf8")).match(/^import .*$/m)?.[0];
      expect(firstImport, entry).toMatch(/^import "\.{1,2}\/runtime\/v8-flags\.js";/);
    }
  });
});

describe("flagsToApply", () => {
  it.each([
    [[], V8_FLAGS],
    [["--max-old-space-size=128", "--max-semi-space-size=16"], V8_FLAGS],
    [["--allocation-site-pretenuring"], []],
    [["--no-allocation-site-pretenuring"], []],
    [["--allocation_site_pretenuring"], []],
    [["--allocation-site-pretenuring-x"], V8_FLAGS],
  ])("with node options %j applies %j", (execArgv, expected) => {
    expect(flagsToApply(V8_FLAGS, execArgv)).toEqual([...expected]);
  });
});
