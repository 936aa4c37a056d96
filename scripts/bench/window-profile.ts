// One measured window of a server process, profiled by scripts/bench/window-probe.mjs (loaded with --import):
// the probe starts on one SIGUSR2 and writes its profile on the next. Used by the tail phase (through Envoy at a
// fixed rate) and the profile phase (direct, one check in flight); the load is the caller's.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { sleepMs } from "./context.js";
import type { ProfileSummary } from "./profile.js";

export const WINDOW_PROBE = join(repoRoot, "scripts/bench/window-probe.mjs");
export type WindowKind = "cpu" | "survivors";

/** The node flag and environment that load the probe into a server process, writing to `out`. */
export function windowProbe(kind: WindowKind, out: string): { flags: string[]; env: Record<string, string> } {
  return { flags: [`--import=${WINDOW_PROBE}`], env: { SCOPEGATE_WINDOW_PROBE: kind, SCOPEGATE_WINDOW_PROBE_OUT: out } };
}

/** Opens the window, runs the load, closes it and waits for the profile; returns the requests the load made. */
export async function profileWindow(pid: number, out: string, load: () => Promise<number>): Promise<number> {
  process.kill(pid, "SIGUSR2");
  await sleepMs(50);
  const requests = await load();
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 200; i++) {
    try {
      await readFile(out, "utf8");
      return requests;
    } catch {
      await sleepMs(50);
    }
  }
  throw new Error(`no profile written to ${out}`);
}

export interface PerRequest {
  readonly summary: ProfileSummary;
  readonly requests: number;
}

/**
 * The median of several windows of one server, per request: busy time and each module's time are the medians of
 * their per-request values (requests = 1); the function lists are those of the window with the median busy time.
 */
export function medianPerRequest(windows: readonly PerRequest[]): PerRequest {
  const perReq = (w: PerRequest, amount: number): number => amount / Math.max(1, w.requests);
  const median = (v: number[]): number => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const busy = median(windows.map((w) => perReq(w, w.summary.busyUs)));
  const middle = [...windows].sort((a, b) => perReq(a, a.summary.busyUs) - perReq(b, b.summary.busyUs))[Math.floor((windows.length - 1) / 2)]!;
  const names = new Set(windows.flatMap((w) => w.summary.groups.map((g) => g.name)));
  const groups = [...names]
    .map((name) => ({ name, amount: median(windows.map((w) => perReq(w, w.summary.groups.find((g) => g.name === name)?.amount ?? 0))) }))
    .sort((a, b) => b.amount - a.amount)
    .map((g) => ({ ...g, percent: (100 * g.amount) / Math.max(1e-9, busy) }));
  const scale = (lines: PerRequest["summary"]["functions"]) => lines.map((l) => ({ ...l, amount: perReq(middle, l.amount) }));
  return {
    requests: 1,
    summary: { ...middle.summary, busyUs: busy, groups, functions: scale(middle.summary.functions), ownFunctions: scale(middle.summary.ownFunctions) },
  };
}

/** A CPU profile as µs per request: busy time, by module, the top functions and scopegate's own. */
export function cpuPerRequest(p: PerRequest): string {
  const perReq = (amount: number): string => (amount / Math.max(1, p.requests)).toFixed(1);
  const { summary } = p;
  const own = summary.ownFunctions.slice(0, 8).map((f) => `\`${f.name}\` ${perReq(f.amount)}`);
  return `${perReq(summary.busyUs)} µs/req busy (idle ${summary.idlePercent.toFixed(0)} %); by module: ${summary.groups
    .slice(0, 10)
    .map((g) => `${g.name} ${perReq(g.amount)}`)
    .join(", ")} µs/req; top functions: ${summary.functions
    .slice(0, 8)
    .map((f) => `\`${f.name}\` ${f.percent.toFixed(1)} %`)
    .join(", ")}${own.length > 0 ? `; scopegate's own: ${own.join(", ")} µs/req` : ""}`;
}

/** Where `b` spends more (and less) CPU per request than `a`, by module. */
export function cpuDifference(a: PerRequest, b: PerRequest): string {
  const us = (p: PerRequest, group: string): number => (p.summary.groups.find((g) => g.name === group)?.amount ?? 0) / Math.max(1, p.requests);
  const groups = new Set([...a.summary.groups, ...b.summary.groups].map((g) => g.name));
  const diffs = [...groups].map((g) => ({ g, d: us(b, g) - us(a, g) })).sort((x, y) => y.d - x.d);
  const total = b.summary.busyUs / Math.max(1, b.requests) - a.summary.busyUs / Math.max(1, a.requests);
  const signed = (v: number): string => `${v < 0 ? "−" : "+"}${Math.abs(v).toFixed(2)}`;
  const list = (xs: readonly { g: string; d: number }[]): string => xs.map((x) => `${x.g} ${signed(x.d)}`).join(", ");
  const more = diffs.filter((x) => x.d > 0).slice(0, 8);
  const less = diffs.filter((x) => x.d < 0).slice(-4);
  return `${signed(total)} µs/req busy${more.length > 0 ? `; more: ${list(more)}` : ""}${less.length > 0 ? `; less: ${list(less)}` : ""} µs/req`;
}
