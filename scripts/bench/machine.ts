// The machine a run happened on, for the report: cores, CPU model, memory, Node, Envoy, ghz and wrk versions.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { toolPath } from "../../test/support/tools.js";
import { GHZ_PATH, ghzInstalled } from "./ghz.js";

export interface Machine {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly kernel: string;
  readonly node: string;
  readonly envoy: string;
  readonly ghz: string;
  readonly wrk: string;
}

export function describeMachine(): Machine {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    nproc: Number(run("nproc", []) || os.availableParallelism()),
    cpuModel: /model name\s*:\s*(.*)/.exec(safeRead("/proc/cpuinfo"))?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    envoy: /\/(\d+\.\d+\.\d+)\//.exec(run(toolPath("envoy"), ["--version"]))?.[1] ?? "unknown",
    ghz: ghzInstalled() ? (/mod\s+github.com\/bojand\/ghz\s+(\S+)/.exec(run("go", ["version", "-m", GHZ_PATH]))?.[1] ?? "installed") : "not installed",
    wrk: /wrk (\S+)/.exec(run("wrk", ["--version"]))?.[1] ?? "not installed",
  };
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).trim();
  } catch (err) {
    // wrk --version exits 1 after printing its banner.
    const out = (err as { stdout?: string }).stdout;
    return typeof out === "string" ? out.trim() : "";
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * The machine's CPU time so far from /proc/stat's first line, in clock ticks: `steal` is time the hypervisor ran
 * something else while this VM had work (proc(5)), `total` every state's ticks. Undefined where /proc/stat is
 * not readable (not Linux).
 */
export function cpuTicks(): CpuTicks | undefined {
  return parseCpuTicks(safeRead("/proc/stat"));
}

export interface CpuTicks {
  readonly steal: number;
  readonly total: number;
}

/** The aggregate `cpu` line of a /proc/stat text (proc(5)), or undefined when there is none or it is malformed. */
export function parseCpuTicks(procStat: string): CpuTicks | undefined {
  const fields = /^cpu\s+(.*)$/m.exec(procStat)?.[1]?.trim().split(/\s+/).map(Number);
  if (!fields || fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
  // user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user and nice]
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { steal: fields[7]!, total };
}

/** The share of all CPU time the hypervisor stole between two readings (0–1), or undefined. */
export function stealShare(before: CpuTicks | undefined, after: CpuTicks | undefined): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return (after.steal - before.steal) / (after.total - before.total);
}
