// Keeps the A/B phase working (`npm run bench -- --only ab --baseline <subject> [--candidate <subject>]`), in smoke
// mode: this checkout's dist/ with node flags of its own (+flags:, a 4 MiB semi-space) at --rate 300 against itself as
// shipped given as a build folder, the trivial server warmed up with HTTP clients
// against the plain one, and the trivial server spinning per check against one that made scopegate's kinds of HTTP
// client call, each subject behind its own real Envoy in the same windows. Checks that both subjects answered every request, that the row carries a CPU
// ratio and a p99 per window, and that a spin of 400 µs per check shows up as CPU (no timing is asserted).
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Row, Target } from "../../scripts/bench/report.js";
import { repoRoot } from "../support/tools.js";

const tsx = join(repoRoot, "node_modules/tsx/dist/cli.mjs");
let dir: string;

/** One smoke A/B run; its report's rows and failures. */
async function ab(candidate: string, baseline: string, extra: readonly string[] = []): Promise<AbReport> {
  const json = join(dir, `${candidate.replace(/\W+/g, "_")}.json`);
  // Reads dist/ (npm test builds first); writes no document without --out.
  await promisify(execFile)(process.execPath, [tsx, "scripts/bench.ts", "--smoke", "--only", "ab", "--candidate", candidate, "--baseline", baseline, "--json", json, ...extra], {
    cwd: repoRoot,
    timeout: 150_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`bench --only ab failed: ${err.message}\n${err.stderr ?? ""}`);
  });
  return JSON.parse(await readFile(json, "utf8")) as AbReport;
}

/** The two process trees' RSS the row ends with. */
function rssMiB(value: string): number[] {
  const m = /RSS after the last window (\d+) \/ (\d+) MiB/.exec(value);
  return m ? [Number(m[1]), Number(m[2])] : [];
}

type AbReport = { rows: Row[]; failures: string[]; targets: Target[] };
/** Node flags in place of the shipped heap flags: the candidate of the first run. */
const SMALL_YOUNG = "+flags:--max-old-space-size=128,--max-semi-space-size=4";
let builds: AbReport;
let trivials: AbReport;
let burns: AbReport;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-bench-ab-"));
  builds = await ab(`dist${SMALL_YOUNG}`, join(repoRoot, "dist"), ["--rate", "300"]);
  trivials = await ab("trivial+http-clients", "trivial");
  burns = await ab("trivial+burn:400", "trivial+node-http-client");
}, 480_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm run bench -- --only ab --baseline <subject> [--candidate <subject>]", () => {
  it("loads two builds of scopegate in the same windows, one with node flags of its own, at the rate asked for, and reports a CPU ratio per window, every answer an allow", () => {
    expect(builds.failures).toEqual([]);
    const rows = builds.rows.filter((r) => r.section === "ab");
    expect(rows.map((r) => r.label)).toEqual([`dist${SMALL_YOUNG} ÷ ${join(repoRoot, "dist")}, CPU µs/req through Envoy, same window`]);
    expect(rows[0]!.value).toMatch(/^\d\.\d{3}× \(per window \d\.\d{3}, \d\.\d{3}\); dist\+flags:\S+ \d+ µs\/req \(per window \d+, \d+\), .* 0 errors(; hypervisor steal per window [\d.]+, [\d.]+ %)?; p99 dist\+flags:\S+ [\d.]+ ms \(per window [\d.]+, [\d.]+\), \S+ [\d.]+ ms \(per window [\d.]+, [\d.]+\); RSS after the last window \d+ \/ \d+ MiB \(process tree\)$/);
    // Each a live node process's RSS, not a missed reading (0 when the process is gone).
    const rss = rssMiB(rows[0]!.value ?? "");
    expect(rss).toHaveLength(2);
    expect(Math.min(...rss)).toBeGreaterThanOrEqual(20);
    // The candidate ran with the flags given instead of the image's, the baseline as shipped; 300 req/s to each edge.
    expect(rows[0]!.command).toMatch(/candidate: MALLOC_ARENA_MAX=2 node --max-old-space-size=128 --max-semi-space-size=4 dist\/main\.js serve .*; baseline: MALLOC_ARENA_MAX=2 node --max-old-space-size=128 --max-semi-space-size=16 \S*dist\/main\.js serve/);
    expect(rows[0]!.command).toContain("-rate=600/s");
    // 300 req/s for 2 s per window: vegeta's schedule issues 600 requests to each side, and the row divides the
    // answered ones by the window's length (a count, not a timing: 1,000 req/s, the default, would read 1000).
    const rps = /(\d+) \/ (\d+) req\/s/.exec(rows[0]!.value ?? "");
    expect(rps).not.toBeNull();
    expect([Number(rps![1]), Number(rps![2])].every((r) => r >= 270 && r <= 330)).toBe(true);
    // Both builds answered the windows from their caches: no token request under load.
    expect(builds.targets.find((t) => t.name === "token requests on the hot path")).toMatchObject({ met: true, measured: expect.stringMatching(/^0 /) });
  });

  it("loads the trivial server warmed up with HTTP clients beside the plain one, every answer an allow", () => {
    expect(trivials.failures).toEqual([]);
    const row = trivials.rows.find((r) => r.section === "ab");
    expect(row?.value).toMatch(/^\d\.\d{3}× \(per window \d\.\d{3}, \d\.\d{3}\); trivial\+http-clients \d+ µs\/req \(per window \d+, \d+\), trivial \d+ µs\/req .* 0 errors(; hypervisor steal per window [\d.]+, [\d.]+ %)?; p99 trivial\+http-clients [\d.]+ ms .*; RSS after the last window \d+ \/ \d+ MiB \(process tree\)$/);
    expect(row?.command).toMatch(/candidate: node --import=scripts\/bench\/http-clients-warmup\.mjs scripts\/bench\/trivial-server\.ts .*; baseline: node scripts\/bench\/trivial-server\.ts/);
  });

  it("loads the trivial server spinning 400 µs per check: more CPU per request than the baseline in every window, both judged", () => {
    expect(burns.failures).toEqual([]);
    const row = burns.rows.find((r) => r.section === "ab");
    expect(row?.command).toMatch(/candidate: node scripts\/bench\/trivial-server\.ts .* --burn-us 400;/);
    // The baseline made its node:http calls to the stand-in before serving (the warm-up throws, and the server never
    // starts, unless every call was answered).
    expect(row?.command).toMatch(/baseline: node --import=scripts\/bench\/node-http-client-warmup\.mjs scripts\/bench\/trivial-server\.ts/);
    // 400 µs of spin on top of the transport's ~100–250 µs: well above the baseline whatever the machine does.
    const perWindow = /^[\d.]+× \(per window ([\d.]+), ([\d.]+)\)/.exec(row?.value ?? "");
    expect(perWindow).not.toBeNull();
    expect(Math.min(Number(perWindow![1]), Number(perWindow![2]))).toBeGreaterThan(1.5);
    const judgedNames = burns.targets.map((t) => t.name).filter((n) => n.startsWith("A/B: "));
    expect(judgedNames).toEqual(["A/B: trivial+burn:400's CPU per request against trivial+node-http-client's", "A/B: trivial+burn:400's p99 against trivial+node-http-client's"]);
    expect(burns.targets.find((t) => t.name.endsWith("CPU per request against trivial+node-http-client's"))).toMatchObject({ met: false });
  });

  it("every variant in scripts/bench/variants still applies to this checkout's source (scripts/bench/build-variant.sh applies them)", async () => {
    const patches = (await readdir(join(repoRoot, "scripts/bench/variants"))).filter((f) => f.endsWith(".patch"));
    expect(patches).toEqual(expect.arrayContaining(["fixed-answer.patch", "stop-after-parse.patch", "serve-in-thread.patch"]));
    for (const patch of patches) {
      await expect(promisify(execFile)("git", ["apply", "--check", `scripts/bench/variants/${patch}`], { cwd: repoRoot }), patch).resolves.toBeDefined();
    }
  });

  it("refuses --only ab without a baseline, a baseline without --only ab, and a candidate alone", async () => {
    for (const args of [["--only", "ab"], ["--baseline", "dist"], ["--candidate", "dist"]]) {
      const failed = await promisify(execFile)(process.execPath, [tsx, "scripts/bench.ts", ...args], { cwd: repoRoot, timeout: 60_000 }).then(
        () => undefined,
        (err: Error & { code?: number; stderr?: string }) => err,
      );
      expect(failed?.code).toBe(2);
      expect(failed?.stderr).toContain("--only ab and --baseline <subject> go together");
    }
  });

  it("refuses a subject whose +flags: are not node flags, and a --rate that is not whole requests per second or comes without --only ab", async () => {
    const refused = async (args: string[]) =>
      promisify(execFile)(process.execPath, [tsx, "scripts/bench.ts", ...args], { cwd: repoRoot, timeout: 60_000 }).then(
        () => undefined,
        (err: Error & { code?: number; stderr?: string }) => err,
      );
    const badFlag = await refused(["--only", "ab", "--baseline", "dist+flags:--max-semi-space-size=4,rm -rf"]);
    expect(badFlag?.code).toBe(2);
    expect(badFlag?.stderr).toContain("not a node flag: rm -rf");
    for (const args of [["--only", "ab", "--baseline", "trivial", "--rate", "0"], ["--only", "ab", "--baseline", "trivial", "--rate", "1e3x"], ["--only", "envoy", "--rate", "500"]]) {
      const failed = await refused(args);
      expect(failed?.code, args.join(" ")).toBe(2);
      expect(failed?.stderr).toContain("--rate takes whole requests per second");
    }
  });
});
