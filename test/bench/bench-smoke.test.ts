// Keeps `npm run bench` working: runs its smoke mode (`scripts/bench.ts --smoke`, about a minute, every server in
// its own process) and checks that it produced rows and that the burst of 1,000 concurrent first requests over
// 100 tenants made exactly 100 token requests. No timing is asserted: this machine's speed is not the subject.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ghzInstalled } from "../../scripts/bench/ghz.js";
import { nativeUnavailable } from "../../scripts/bench/native-process.js";
import { opaUnavailable } from "../../scripts/bench/opa-process.js";
import { unifiedCacheLevels } from "../../scripts/bench/phase-stages.js";
import { EQUAL_CPU_P99_TARGET, SAME_WINDOW_P99_TARGET, SAME_WINDOW_TARGET } from "../../scripts/bench/phase-envoy.js";
import type { Row, Target } from "../../scripts/bench/report.js";
import { repoRoot } from "../support/tools.js";

interface SmokeReport {
  rows: Row[];
  targets: Target[];
  failures: string[];
  notes: string[];
  burst?: { tokenRequests: number; maxPerTenant: number; allowed: number };
}

let dir: string;
let report: SmokeReport;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-bench-smoke-"));
  const json = join(dir, "smoke.json");
  const tsx = join(repoRoot, "node_modules/tsx/dist/cli.mjs");
  // Reads dist/ (npm test builds first); writes no document without --out.
  await promisify(execFile)(process.execPath, [tsx, "scripts/bench.ts", "--smoke", "--json", json], {
    cwd: repoRoot,
    timeout: 280_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`bench --smoke failed: ${err.message}\n${err.stderr ?? ""}`);
  });
  report = JSON.parse(await readFile(json, "utf8")) as SmokeReport;
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm run bench -- --smoke", () => {
  it("runs every phase without a failure and produces rows", () => {
    expect(report.failures).toEqual([]);
    const sections = new Set(report.rows.map((r) => r.section));
    for (const s of ["envoy", "envoy-fixed", "cold", "memory", "stages", "budget", "fleet"]) expect(sections).toContain(s);
    if (ghzInstalled()) for (const s of ["direct", "cluster"]) expect(sections).toContain(s);
    for (const r of report.rows) {
      if (r.load) expect(r.load.requests).toBeGreaterThan(0);
      expect(r.command).not.toBe("");
    }
  });

  it("has the cold-cache stage rows: for each unified cache level sysfs names, authorize, its reading, a ts-proto decode and a fixed answer", () => {
    const cold = report.rows.filter((r) => r.section === "stages" && r.label.includes("evicted before each operation"));
    const levels = unifiedCacheLevels();
    expect(cold.map((r) => r.label.match(/with the (L\d) cache/)?.[1])).toEqual(levels.flatMap((l) => Array<string>(4).fill(`L${l.level}`)));
    // A shape, not a speed: no timing is asserted here.
    for (const r of cold) expect(r.value).toMatch(/^\d+\.\d\d µs$/);
  });

  it("has the tail rows, each with what the kernel counted for its server per request (/proc)", () => {
    const tail = report.rows.filter((r) => r.section === "tail" && r.load);
    expect(tail.length).toBeGreaterThan(1);
    for (const r of tail) {
      expect(r.load?.errors).toBe(0);
      expect(r.versus).toMatch(/kernel's count per request: CPU on the main thread \d+ µs, on other threads \d+ µs, \d+\.\d\d wake-ups/);
    }
    for (const r of tail.slice(1)) expect(r.versus).toMatch(/\(main thread \d+\.\d\d×, other threads [+−]\d+ µs\/req, wake-ups \d+\.\d\d×, system calls \d+\.\d\d×\)/);
  });

  it("has the grpc-js decode floor rows (started and checked to decode in every run), every answer an allow", () => {
    const decodeRows = report.rows.filter((r) => r.label.includes("grpc-js decode floor"));
    expect(decodeRows.map((r) => r.section)).toEqual(expect.arrayContaining(["envoy", "envoy-fixed", ...(ghzInstalled() ? ["direct"] : [])]));
    for (const r of decodeRows) expect(r.load?.errors).toBe(0);
  });

  it("has the wire-reader floor behind Envoy (scopegate's reader, checked to read in every run), every answer an allow", () => {
    const rows = report.rows.filter((r) => r.label === "Envoy + wire-reader floor (scopegate's reader)");
    expect(rows.map((r) => r.section).sort()).toEqual(["envoy", "envoy-fixed"]);
    for (const r of rows) expect(r.load?.errors).toBe(0);
    const cpu = report.targets.find((t) => t.name === "CPU per request through Envoy (issue 15)");
    expect(cpu?.measured).toMatch(/wire-reader floor \d+ µs\/req \(\d+\.\d\d× the trivial server's/);
  });

  it("measures the CPU and p99 targets a second way: scopegate and the trivial server loaded in the same window, then scopegate and a server of its CPU per check, every answer an allow", () => {
    const target = report.targets.find((t) => t.name === SAME_WINDOW_TARGET);
    // Both servers answered in the window (CPU per request is a number for each) and nothing failed.
    expect(target?.measured).toMatch(/^scopegate \d+ µs\/req \(per window \d+\), trivial \d+ µs\/req \(\d+\); \d+ \/ \d+ req\/s, p50 [\d.]+ \/ [\d.]+ ms, 0 errors/);
    const p99 = report.targets.find((t) => t.name === SAME_WINDOW_P99_TARGET);
    expect(p99?.measured).toMatch(/^p99 scopegate [\d.]+ ms \(per window [\d.]+\), trivial [\d.]+ ms \(per window [\d.]+\); scopegate \d+ µs\/req .* 0 errors/);
    // And against the trivial server spinning scopegate's extra CPU per check (at least 1 µs), on its own edge.
    const equal = report.targets.find((t) => t.name === EQUAL_CPU_P99_TARGET);
    expect(equal?.measured).toMatch(/^the trivial server spinning \d+ µs per check .*; p99 scopegate [\d.]+ ms \(per window [\d.]+\), that server [\d.]+ ms \(per window [\d.]+\); CPU scopegate ÷ it [\d.]+× .* 0 errors/);
  });

  it("has scopegate with a decision line per allow too behind Envoy, every answer an allow", () => {
    const rows = report.rows.filter((r) => r.label === "Envoy + scopegate, logging.decisions: all");
    expect(rows.map((r) => r.section).sort()).toEqual(["envoy", "envoy-fixed"]);
    for (const r of rows) expect(r.load?.errors).toBe(0);
  });

  it("has the native grpc-go rows when the native server is built, and says why they were skipped when not", () => {
    const nativeRows = report.rows.filter((r) => r.label.includes("native"));
    const missing = nativeUnavailable();
    if (missing === undefined) {
      expect(nativeRows.map((r) => r.section)).toEqual(expect.arrayContaining(["envoy", "envoy-fixed", ...(ghzInstalled() ? ["direct"] : [])]));
      for (const r of nativeRows) expect(r.load?.errors).toBe(0);
    } else {
      expect(nativeRows).toEqual([]);
      expect(report.notes).toContain(`Native rows skipped: ${missing}.`);
    }
  });

  it("has the OPA peer rows when the peer is built (every answer an allow), and says why they were skipped when not", () => {
    const opaRows = report.rows.filter((r) => r.label.includes("OPA peer"));
    const missing = opaUnavailable();
    if (missing === undefined) {
      expect(opaRows.map((r) => r.section)).toEqual(expect.arrayContaining(["envoy", "envoy-fixed", ...(ghzInstalled() ? ["direct"] : [])]));
      for (const r of opaRows) expect(r.load?.errors).toBe(0);
    } else {
      expect(opaRows).toEqual([]);
      expect(report.notes).toContain(`OPA peer rows skipped: ${missing}.`);
    }
  });

  it("the burst of 1,000 first requests over 100 tenants made exactly 100 token requests", () => {
    expect(report.burst).toMatchObject({ tokenRequests: 100, maxPerTenant: 1, allowed: 1000 });
  });

  it("the fleet token store: one token request per tenant for 3 new replicas, none for a rollout to 3 more", () => {
    const value = (label: string): string | undefined => report.rows.find((r) => r.section === "fleet" && r.label === label)?.value;
    expect(value("token requests, 3 new replicas × 100 tenants, fleet store on")).toMatch(/^100 \(/);
    expect(value("token requests, rollout to 3 more replicas, fleet store on")).toMatch(/^0 \(/);
    expect(value("token requests, rollout to 3 more replicas, fleet store off")).toMatch(/^300 \(/);
  });

  it("the onset phase ran one process of each kind and counted them", () => {
    const onset = report.rows.filter((r) => r.label.startsWith("onset: "));
    expect(onset.filter((r) => /process \d+$/.test(r.label))).toHaveLength(2);
    expect(onset.find((r) => r.label.startsWith("onset: processes promoting"))?.value).toMatch(/^as shipped [01] of 1; allocation-site pretenuring on .* [01] of 1$/);
  });

  it("the cached hot path made no token request", () => {
    expect(report.targets.find((t) => t.name === "token requests on the hot path")?.met).toBe(true);
  });
});
