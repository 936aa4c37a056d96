// scripts/bench/tail-probe.mjs from the harness's side: the module to --import, the variable naming its report
// file, what the report holds and how to read it once the probe has written it.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { sleepMs } from "./context.js";

export const PROBE = join(repoRoot, "scripts/bench/tail-probe.mjs");
export const PROBE_ENV = "SCOPEGATE_TAIL_PROBE_OUT";

/** What scripts/bench/tail-probe.mjs writes for one window. */
export interface ProbeReport {
  readonly eld: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number; readonly count: number; readonly resolutionMs: number };
  readonly allocatedBytes: number;
  /** kind: v8.GCProfiler's gcType (Scavenge, MarkSweepCompact, …); promoted: old space growth over a scavenge. */
  readonly gc: readonly { readonly kind: string; readonly ms: number; readonly promoted: number; readonly newSpace: number }[];
}

/** Bytes promoted into the old generation over the window (old space growth over each scavenge). */
export function promotedBytes(probe: ProbeReport): number {
  return probe.gc.filter((g) => g.kind === "Scavenge").reduce((a, g) => a + g.promoted, 0);
}

/** Mark-compacts (full GCs) in the window. */
export function markCompacts(probe: ProbeReport): number {
  return probe.gc.filter((g) => g.kind === "MarkSweepCompact").length;
}

/** The report the probe writes when its window closes (it may take a moment to appear). */
export async function readProbe(file: string): Promise<ProbeReport> {
  for (let i = 0; i < 100; i++) {
    try {
      return JSON.parse(await readFile(file, "utf8")) as ProbeReport;
    } catch {
      await sleepMs(20);
    }
  }
  throw new Error(`no probe report in ${file}`);
}
