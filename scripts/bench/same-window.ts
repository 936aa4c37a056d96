// Two authz servers measured in the same window: one vegeta attack whose requests alternate between two edge
// Envoys (the same requests to each), each edge at the given rate, and both servers' CPU (/proc/<pid>/stat, the
// process tree) read over the same seconds. The rotated rows elsewhere run one server at a time, so whatever changes
// the machine's speed between two windows (the hypervisor's steal, a neighbour's use of the shared caches) lands on
// one row and not the other; here it lands on both, and the ratio of the two is what is left.
import type { Envoy } from "../../test/support/envoy.js";
import { treeCpuMs } from "./child.js";
import type { LoadResult } from "./load-result.js";
import { cpuTicks, stealShare } from "./machine.js";
import { median } from "./report.js";
import { rateCommand, runSharedRate } from "./vegeta.js";

export interface Side {
  readonly envoy: Envoy;
  /** The authz server behind the edge, whose CPU is charged to its requests. */
  readonly pid: number;
}

/** One side's load in one window, with its server's CPU per request. */
export type WindowLoad = LoadResult & { readonly cpuUsPerReq: number };

export interface SameWindowRep {
  readonly a: WindowLoad;
  readonly b: WindowLoad;
  /** The share of the machine's CPU time the hypervisor stole during the window (/proc/stat), when readable. */
  readonly stealPct: number | undefined;
}

export interface SameWindowRun {
  /** vegeta's path. */
  readonly binary: string;
  /** The request specs (writeRateRequests), sent to both edges. */
  readonly requestsFile: string;
  /** Requests per second to each edge. */
  readonly rate: number;
  /** Keep-alive connections per edge. */
  readonly connections: number;
  readonly durationS: number;
  readonly reps: number;
}

/** `run.reps` windows; the edge that gets each pair's first request alternates between windows. */
export async function sameWindow(a: Side, b: Side, run: SameWindowRun): Promise<SameWindowRep[]> {
  const reps: SameWindowRep[] = [];
  for (let i = 0; i < run.reps; i++) {
    const sides = i % 2 === 0 ? [a, b] : [b, a];
    const ticks = cpuTicks();
    const before = sides.map((s) => treeCpuMs(s.pid));
    const results = await runSharedRate({
      binary: run.binary,
      urls: sides.map((s) => s.envoy.url),
      requestsFile: run.requestsFile,
      ratePerUrl: run.rate,
      connections: run.connections,
      durationS: run.durationS,
    });
    const cpuMs = sides.map((s, k) => treeCpuMs(s.pid) - before[k]!);
    const steal = stealShare(ticks, cpuTicks());
    const measured = results.map((r, k): WindowLoad => ({ ...r, cpuUsPerReq: r.requests > 0 ? (cpuMs[k]! * 1000) / r.requests : Number.NaN }));
    const aAt = sides.indexOf(a);
    reps.push({ a: measured[aAt]!, b: measured[1 - aAt]!, stealPct: steal === undefined ? undefined : steal * 100 });
  }
  return reps;
}

/** Per window, a's CPU per request ÷ b's. */
export function cpuRatios(reps: readonly SameWindowRep[]): number[] {
  return reps.map((r) => r.a.cpuUsPerReq / r.b.cpuUsPerReq);
}

/** Per window, a's p99 − b's (ms). */
export function p99Differences(reps: readonly SameWindowRep[]): number[] {
  return reps.map((r) => r.a.p99 - r.b.p99);
}

/** One side's p99 for a row or a target: "x ms (per window a, b, …)", the median first. */
export function p99PerWindow(reps: readonly SameWindowRep[], side: "a" | "b"): string {
  return `${median(reps.map((r) => r[side].p99)).toFixed(2)} ms (per window ${reps.map((r) => r[side].p99.toFixed(2)).join(", ")})`;
}

/**
 * What both sides did, for a row or a target: "<a> N µs/req (per window …), <b> N µs/req (…); N / N req/s, p50 x / y
 * ms, E errors", and the hypervisor's steal per window when /proc/stat was readable. Medians over the windows.
 */
export function sameWindowSummary(reps: readonly SameWindowRep[], names: { a: string; b: string }): string {
  const of = (f: (r: SameWindowRep) => number): number => median(reps.map(f));
  const list = (f: (r: SameWindowRep) => number, digits: number): string => reps.map((r) => f(r).toFixed(digits)).join(", ");
  const errors = reps.reduce((n, r) => n + r.a.errors + r.b.errors, 0);
  const steal = reps.every((r) => r.stealPct !== undefined) ? `; hypervisor steal per window ${list((r) => r.stealPct!, 1)} %` : "";
  return (
    `${names.a} ${of((r) => r.a.cpuUsPerReq).toFixed(0)} µs/req (per window ${list((r) => r.a.cpuUsPerReq, 0)}), ` +
    `${names.b} ${of((r) => r.b.cpuUsPerReq).toFixed(0)} µs/req (${list((r) => r.b.cpuUsPerReq, 0)}); ` +
    `${of((r) => r.a.rps).toFixed(0)} / ${of((r) => r.b.rps).toFixed(0)} req/s, p50 ${of((r) => r.a.p50).toFixed(2)} / ${of((r) => r.b.p50).toFixed(2)} ms, ${errors} errors${steal}`
  );
}

export function sameWindowCommand(run: SameWindowRun): string {
  return `${rateCommand({ binary: run.binary, url: "<both edges>", requestsFile: run.requestsFile, rate: 2 * run.rate, connections: run.connections, durationS: run.durationS })}, the targets alternating between the two edges`;
}
