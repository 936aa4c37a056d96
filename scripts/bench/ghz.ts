// ghz (github.com/bojand/ghz, built by scripts/install-tools.sh into .tools/bin) as the gRPC load generator:
// a Go process of its own, binary CheckRequests round-robin from a count-delimited file (-B), JSON report.
// Percentiles, p99.9 included, are computed here from the per-request details of the report.
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild } from "./child.js";
import { loadResultOf, type LoadResult } from "./load-result.js";

export const GHZ_PATH = join(repoRoot, ".tools/bin/ghz");

export function ghzInstalled(): boolean {
  return existsSync(GHZ_PATH);
}

export interface GhzRun {
  /** host:port, or unix:///absolute/path */
  readonly target: string;
  readonly protoset: string;
  readonly dataFile: string;
  readonly concurrency: number;
  readonly connections: number;
  readonly durationS: number;
  /** Constant request rate (ghz -r); unlimited when absent. */
  readonly rps?: number;
  readonly outFile: string;
}

/**
 * ghz runs with GOMAXPROCS=1: on a 2-core machine a load generator free to use both cores takes CPU from the
 * server it measures, and how much varies from run to run. With one core each the split is at least defined.
 */
export const GHZ_CPUS = 1;

export function ghzArgs(run: GhzRun): string[] {
  return [
    "--insecure",
    `--protoset=${run.protoset}`,
    "--call=envoy.service.auth.v3.Authorization.Check",
    `--binary-file=${run.dataFile}`,
    `--concurrency=${run.concurrency}`,
    `--connections=${run.connections}`,
    `--duration=${run.durationS}s`,
    // Requests still in flight when time is up are left out rather than counted as errors.
    "--duration-stop=ignore",
    "--timeout=5s",
    `--cpus=${GHZ_CPUS}`,
    ...(run.rps ? [`--rps=${run.rps}`] : []),
    "--format=json",
    `--output=${run.outFile}`,
    run.target,
  ];
}

/** The command as a reader can paste it (paths shortened to their base names). */
export function ghzCommand(run: GhzRun): string {
  const short = (a: string): string =>
    a.replace(/=\/.*\/([^/]+)$/, "=$1").replace(/^unix:\/\/\/.*\/([^/]+)$/, "unix:///…/$1").replace(/^127\.0\.0\.1:\d+$/, "127.0.0.1:<port>");
  return `ghz ${ghzArgs(run).map(short).join(" ")}`;
}

interface GhzReport {
  count: number;
  total: number; // ns
  rps: number;
  errorDistribution?: Record<string, number> | null;
  statusCodeDistribution?: Record<string, number> | null;
  details?: { latency: number; error: string; status: string }[] | null;
}

export async function runGhz(run: GhzRun): Promise<LoadResult> {
  const child = startChild("ghz", GHZ_PATH, ghzArgs(run), { stdout: "tail" });
  const timeout = setTimeout(() => void child.stop(1_000, "SIGKILL"), (run.durationS + 30) * 1000);
  const { code } = await child.exited;
  clearTimeout(timeout);
  if (code !== 0) throw new Error(`ghz exited with ${code}: ${child.stderr()}`);
  const report = JSON.parse(await readFile(run.outFile, "utf8")) as GhzReport;
  await rm(run.outFile, { force: true });
  const ok = (report.details ?? []).filter((d) => d.status === "OK").map((d) => d.latency / 1e6);
  const errors = Object.values(report.errorDistribution ?? {}).reduce((a, b) => a + b, 0);
  return loadResultOf(ok, errors, report.total / 1e9);
}
