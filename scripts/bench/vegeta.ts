// The constant-rate HTTP load generator for the fixed-rate rows through Envoy: vegeta
// (github.com/tsenart/vegeta, go-installed by scripts/install-tools.sh into .tools/bin with SCOPEGATE_BENCH_TOOLS=1).
// vegeta is an open-model generator: it starts requests on a fixed schedule at the given rate, each on a worker
// of its own (workers are added while others wait on slow answers), so a slow answer does not delay the requests
// after it and the latencies are free of coordinated omission. Connections are kept alive and capped.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild } from "./child.js";
import { loadResultOf, type LoadResult } from "./load-result.js";
import type { WrkRequest } from "./wrk.js";

export const VEGETA_PATH = join(repoRoot, ".tools/bin/vegeta");

/** The generator's path, or why it is missing. */
export function rateGenerator(): { path: string } | { missing: string } {
  return existsSync(VEGETA_PATH) ? { path: VEGETA_PATH } : { missing: "vegeta is not in .tools/bin (SCOPEGATE_BENCH_TOOLS=1 bash scripts/install-tools.sh)" };
}

/** The request specs (paths and headers, sent round-robin); the base URL is added per run. */
export async function writeRateRequests(file: string, requests: readonly WrkRequest[]): Promise<void> {
  await writeFile(file, JSON.stringify(requests));
}

export interface RateRun {
  readonly binary: string;
  readonly url: string;
  readonly requestsFile: string;
  readonly rate: number;
  readonly connections: number;
  readonly durationS: number;
}

function attackArgs(run: RateRun, targets: string, output: string): string[] {
  return [
    "attack",
    "-format=json",
    `-targets=${targets}`,
    `-rate=${run.rate}/s`,
    `-duration=${run.durationS}s`,
    `-connections=${run.connections}`,
    `-max-connections=${run.connections}`,
    "-http2=false",
    "-max-body=0",
    "-timeout=10s",
    `-output=${output}`,
  ];
}

export function rateCommand(run: RateRun): string {
  return `vegeta attack -format=json -targets=<targets> -rate=${run.rate}/s -duration=${run.durationS}s -connections=${run.connections} -max-connections=${run.connections} -http2=false -max-body=0 | vegeta encode -to json`;
}

/** vegeta's JSON targets: one line per request, the specs' paths on this run's base URL. */
async function targetsFor(run: RateRun): Promise<string> {
  const specs = JSON.parse(await readFile(run.requestsFile, "utf8")) as WrkRequest[];
  const lines = specs.map((s) =>
    JSON.stringify({ method: "GET", url: `${run.url}${s.path}`, header: Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k, [v]])) }),
  );
  const file = `${run.requestsFile}.${run.url.replace(/\W+/g, "_")}.targets`;
  await writeFile(file, lines.join("\n") + "\n");
  return file;
}

/** One run; GOMAXPROCS=1 like ghz, so the generator's share of the 2 cores is bounded. */
export async function runRate(run: RateRun): Promise<LoadResult> {
  const targets = await targetsFor(run);
  const output = `${targets}.bin`;
  const child = startChild("vegeta", run.binary, attackArgs(run, targets, output), { stdout: "capture", env: { ...process.env, GOMAXPROCS: "1" } });
  const timer = setTimeout(() => void child.stop(1_000, "SIGKILL"), (run.durationS + 30) * 1000);
  const { code } = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`vegeta attack exited with ${code}: ${child.stderr()}`);
  const encoded = execFileSync(run.binary, ["encode", "-to", "json", output], { maxBuffer: 512 * 1024 * 1024, encoding: "utf8" });
  const latencies: number[] = [];
  let errors = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const line of encoded.split("\n")) {
    if (line === "") continue;
    const r = JSON.parse(line) as { code: number; latency: number; timestamp: string; error: string };
    const startedMs = Date.parse(r.timestamp);
    first = Math.min(first, startedMs);
    last = Math.max(last, startedMs + r.latency / 1e6);
    if (r.code >= 200 && r.code < 300 && r.error === "") latencies.push(r.latency / 1e6);
    else errors++;
  }
  return loadResultOf(latencies, errors, Math.max(1e-3, (last - first) / 1000));
}
