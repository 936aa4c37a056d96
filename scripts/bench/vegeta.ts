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

/** One attack over several base URLs at once: `rate` is each URL's, and the requests alternate between them. */
export interface SharedRateRun extends Omit<RateRun, "url" | "rate"> {
  readonly urls: readonly string[];
  /** Requests per second to each URL (the attack's rate is this times the number of URLs). */
  readonly ratePerUrl: number;
}

/**
 * vegeta's JSON targets: one line per request, the specs' paths on each base URL in turn (spec 1 on every URL,
 * then spec 2, …), so that vegeta's round-robin over them sends every URL the same requests, interleaved.
 */
async function targetsFor(requestsFile: string, urls: readonly string[]): Promise<string> {
  const specs = JSON.parse(await readFile(requestsFile, "utf8")) as WrkRequest[];
  const lines = specs.flatMap((s) =>
    urls.map((url) => JSON.stringify({ method: "GET", url: `${url}${s.path}`, header: Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k, [v]])) })),
  );
  const file = `${requestsFile}.${urls.map((u) => u.replace(/\W+/g, "_")).join("+")}.targets`;
  await writeFile(file, lines.join("\n") + "\n");
  return file;
}

/** One run; GOMAXPROCS=1 like ghz, so the generator's share of the 2 cores is bounded. */
export async function runRate(run: RateRun): Promise<LoadResult> {
  const [result] = await runSharedRate({ ...run, urls: [run.url], ratePerUrl: run.rate });
  return result!;
}

/** One attack over several URLs in the same window; each URL's result, in the order given. */
export async function runSharedRate(run: SharedRateRun): Promise<LoadResult[]> {
  const targets = await targetsFor(run.requestsFile, run.urls);
  const output = `${targets}.bin`;
  const args = attackArgs({ ...run, url: run.urls[0]!, rate: run.ratePerUrl * run.urls.length }, targets, output);
  const child = startChild("vegeta", run.binary, args, { stdout: "capture", env: { ...process.env, GOMAXPROCS: "1" } });
  const timer = setTimeout(() => void child.stop(1_000, "SIGKILL"), (run.durationS + 30) * 1000);
  const { code } = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`vegeta attack exited with ${code}: ${child.stderr()}`);
  const encoded = execFileSync(run.binary, ["encode", "-to", "json", output], { maxBuffer: 512 * 1024 * 1024, encoding: "utf8" });
  const per = run.urls.map(() => ({ latencies: [] as number[], errors: 0, first: Infinity, last: -Infinity }));
  for (const line of encoded.split("\n")) {
    if (line === "") continue;
    const r = JSON.parse(line) as { code: number; latency: number; timestamp: string; error: string; url?: string };
    // vegeta's results name their URL; a single-URL run needs no lookup.
    const i = run.urls.length === 1 ? 0 : run.urls.findIndex((u) => r.url?.startsWith(`${u}/`));
    if (i < 0) throw new Error(`vegeta result for an unknown URL: ${r.url ?? "(none)"}`);
    const acc = per[i]!;
    const startedMs = Date.parse(r.timestamp);
    acc.first = Math.min(acc.first, startedMs);
    acc.last = Math.max(acc.last, startedMs + r.latency / 1e6);
    if (r.code >= 200 && r.code < 300 && r.error === "") acc.latencies.push(r.latency / 1e6);
    else acc.errors++;
  }
  return per.map((a) => loadResultOf(a.latencies, a.errors, Math.max(1e-3, (a.last - a.first) / 1000)));
}
