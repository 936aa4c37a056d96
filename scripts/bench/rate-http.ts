// The constant-rate HTTP load generator (scripts/bench/rate-http, Go standard library only, wrk2's model: each
// connection on a fixed schedule, latency counted from the due time when a connection was still busy). Built
// with `go build` into the run's temp folder (a second or two with a warm Go build cache); the through-Envoy
// fixed-rate rows and the tail phase use it. wrk with a pause between requests (wrk.ts) is the fallback when
// Go is missing: its rate bends with the latency and a slow answer delays the next request unseen.
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild } from "./child.js";
import type { LoadResult } from "./load-result.js";
import type { WrkRequest } from "./wrk.js";

const SOURCE_DIR = join(repoRoot, "scripts/bench/rate-http");

const built = new Map<string, { path: string } | { missing: string }>();

/** Builds the generator into `dir` (once per folder); returns its path, or why it could not be built. */
export function buildRateHttp(dir: string): { path: string } | { missing: string } {
  const done = built.get(dir);
  if (done) return done;
  const result = build(join(dir, "rate-http"));
  built.set(dir, result);
  return result;
}

function build(path: string): { path: string } | { missing: string } {
  try {
    execFileSync("go", ["build", "-o", path, "."], {
      cwd: SOURCE_DIR,
      env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 180_000,
    });
    return { path };
  } catch (err) {
    return { missing: `go build of scripts/bench/rate-http failed (${(err as Error).message.split("\n")[0]})` };
  }
}

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

export function rateArgs(run: RateRun): string[] {
  return [`--url=${run.url}`, `--requests=${run.requestsFile}`, `--rate=${run.rate}`, `--connections=${run.connections}`, `--duration=${run.durationS}s`];
}

export function rateCommand(run: RateRun): string {
  return `rate-http ${rateArgs(run)
    .map((a) => a.replace(/=\/.*\/([^/]+)$/, "=$1").replace(/=http:\/\/127\.0\.0\.1:\d+$/, "=http://127.0.0.1:<edge port>"))
    .join(" ")}`;
}

/** One run; GOMAXPROCS=1 like ghz, so the generator's share of the 2 cores is bounded. */
export async function runRate(run: RateRun): Promise<LoadResult & { readonly late: number }> {
  const child = startChild("rate-http", run.binary, rateArgs(run), { stdout: "capture", env: { ...process.env, GOMAXPROCS: "1" } });
  const timer = setTimeout(() => void child.stop(1_000, "SIGKILL"), (run.durationS + 30) * 1000);
  const { code } = await child.exited;
  clearTimeout(timer);
  const line = /^RATEJSON (.*)$/m.exec(child.stdout());
  if (code !== 0 || !line) throw new Error(`rate-http exited with ${code}: ${child.stdout()}\n${child.stderr()}`);
  const r = JSON.parse(line[1]!) as { requests: number; duration_us: number; errors: number; p50: number; p99: number; p999: number; late: number };
  return {
    requests: r.requests,
    errors: r.errors,
    rps: r.requests / (r.duration_us / 1e6),
    p50: r.p50 / 1000,
    p99: r.p99 / 1000,
    p999: r.p999 / 1000,
    late: r.late,
  };
}
