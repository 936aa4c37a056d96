// A/B of two subjects through Envoy, in the same window (same-window.ts): each behind its own edge Envoy at the
// fixed rate while the other is loaded too, reported as the CPU ratio per window. For judging a change to the Check
// path, whose effect (a few per cent) the rotated rows of one server at a time cannot separate from this machine's
// drift. Never part of a full run:
//   npm run bench -- --only ab --baseline <subject> [--candidate <subject>]     (candidate: this checkout's dist/)
// A subject is one of
//   dist                   scopegate from this checkout's dist/, as shipped (the image's heap flags and environment);
//   <folder>               scopegate from another build's dist folder, as shipped (a worktree of another commit,
//                          built, with node_modules reachable from it);
//   trivial                the bench's trivial grpc-js server (one fixed answer, scopegate's own);
//   trivial+http-clients   the same, started with scripts/bench/http-clients-warmup.mjs (node:http and fetch calls,
//                          file streams and an HTTP server of its own before it serves: more kinds of I/O than
//                          scopegate's process does);
//   trivial+node-http-client  the same, started with scripts/bench/node-http-client-warmup.mjs: only the client
//                          calls scopegate's process makes (node:http as the token endpoint, axios as node-vault), to
//                          the bench's stand-in in another process, before it serves;
//   trivial+burn:<n>       the trivial server spinning n µs on the clock in every check (trivial-server.ts --burn-us):
//                          a server with a chosen CPU cost per check and nothing else, to tell how much of a p99
//                          difference the CPU per request explains.
// Any subject may end in `+flags:<flag>,<flag>,…`: node flags for its process, in place of the shipped heap flags for
// scopegate (`dist+flags:` runs it with V8's default heap sizing) and beside the warm-up for the trivial server; e.g.
// `dist+flags:--max-old-space-size=128,--max-semi-space-size=4` to see what the young generation's size does.
// --rate <n> sets the requests per second to each side (the fixed rate by default): below the rate at which the two
// edges saturate this machine's cores, queueing behind the other side's work weighs less in the p99.
// The row gives both sides' CPU per request and p99 per window; each is judged (CPU ≤ 1.00×, p99 ≤ + 0.5 ms, the
// issue-15 tail goal) so that a difference the windows cannot separate says so.
import { join, resolve } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import type { Context } from "./context.js";
import { startEdge, startUpstream } from "./envoys.js";
import { expectAllAllowed } from "./grpc-client.js";
import { treeRssBytes } from "./child.js";
import { BOUNDED_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { judged, median } from "./report.js";
import { cpuRatios, p99Differences, p99PerWindow, sameWindow, sameWindowCommand, sameWindowSummary, type SameWindowRun } from "./same-window.js";
import { startScopegate } from "./scopegate-process.js";
import { startTrivial } from "./trivial-process.js";
import { NODE_FLAG } from "./tail-variants.js";
import { rateGenerator, runSharedRate, writeRateRequests } from "./vegeta.js";

const CONNECTIONS = 20;
export const THIS_BUILD = "dist";
const TRIVIAL = "trivial";
const TRIVIAL_HTTP = "trivial+http-clients";
const TRIVIAL_NODE_HTTP = "trivial+node-http-client";
const TRIVIAL_BURN = /^trivial\+burn:(\d{1,6})$/;
const FLAGS_SUFFIX = "+flags:";

/** A subject without its `+flags:` suffix, and the flags (undefined: none given). */
export function parseSubject(subject: string): { base: string; flags: readonly string[] | undefined } {
  const at = subject.lastIndexOf(FLAGS_SUFFIX);
  if (at < 0) return { base: subject, flags: undefined };
  const flags = subject.slice(at + FLAGS_SUFFIX.length).split(",").filter((f) => f !== "");
  const bad = flags.filter((f) => !NODE_FLAG.test(f));
  if (bad.length > 0) throw new Error(`A/B subject ${subject}: not a node flag: ${bad.join(", ")} (want --name or --name=value)`);
  return { base: subject.slice(0, at), flags };
}

interface Started {
  readonly pid: number;
  readonly unixSocket: string;
  /** How it was started, for the row's command. */
  readonly command: string;
  stop(): Promise<void>;
}

/** Starts one subject (see the header); `response` is the fixed answer of the trivial subjects. */
async function startSubject(ctx: Context, given: string, side: "a" | "b", response: Buffer): Promise<Started> {
  const name = `ab-${side}`;
  const { base: subject, flags } = parseSubject(given);
  const burn = TRIVIAL_BURN.exec(subject);
  if (subject === TRIVIAL || subject === TRIVIAL_HTTP || subject === TRIVIAL_NODE_HTTP || burn) {
    const warmUp = subject === TRIVIAL_HTTP ? "http-clients-warmup.mjs" : subject === TRIVIAL_NODE_HTTP ? "node-http-client-warmup.mjs" : undefined;
    const nodeFlags = [...(flags ?? []), ...(warmUp ? [`--import=${join(repoRoot, "scripts/bench", warmUp)}`] : [])];
    const env = subject === TRIVIAL_NODE_HTTP ? { SCOPEGATE_WARMUP_URL: ctx.world.standin.url } : undefined;
    const t = await startTrivial(ctx.dir, response, { name, nodeFlags, ...(env ? { env } : {}), ...(burn ? { burnUs: Number(burn[1]) } : {}) });
    return { pid: t.child.pid, unixSocket: t.unixSocket, command: t.command, stop: () => t.stop() };
  }
  const distDir = subject === THIS_BUILD ? undefined : resolve(subject);
  const sg = await startScopegate({
    world: ctx.world,
    dir: ctx.dir,
    name,
    configuredTenants: ctx.hot,
    logLevel: "info",
    nodeFlags: flags ?? BOUNDED_HEAP,
    env: SHIPPED_ENV,
    ...(distDir ? { distDir } : {}),
  });
  try {
    await expectAllAllowed(sg.tcpTarget, ctx.hotRequests, `scopegate (${given})`);
  } catch (err) {
    await sg.stop();
    throw err;
  }
  return { pid: sg.child.pid, unixSocket: sg.udsTarget.slice("unix://".length), command: sg.command, stop: () => sg.stop() };
}

export async function abPhase(ctx: Context, subjects: { candidate: string; baseline: string }, response: Buffer, ratePerSide?: number): Promise<void> {
  const { plan, dir, hot } = ctx;
  const rate = ratePerSide ?? plan.fixedRate;
  const generator = rateGenerator();
  if (!("path" in generator)) throw new Error(`the A/B phase needs vegeta: ${generator.missing}`);
  const stops: (() => Promise<void>)[] = [];
  try {
    const candidate = await startSubject(ctx, subjects.candidate, "a", response);
    stops.push(() => candidate.stop());
    const baseline = await startSubject(ctx, subjects.baseline, "b", response);
    stops.push(() => baseline.stop());
    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const sideOf = async (s: Started) => {
      const envoy = await startEdge({ kind: "ext_authz", unixSocket: s.unixSocket }, upstream);
      stops.push(() => envoy.stop());
      return { envoy, pid: s.pid };
    };
    const a = await sideOf(candidate);
    const b = await sideOf(baseline);
    const requestsFile = join(dir, "ab-requests.json");
    await writeRateRequests(requestsFile, requestSpecs(hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })));
    // The subjects minted their tokens while they started (expectAllAllowed); under load, as in every phase, none.
    const tokensBefore = ctx.world.standin.tokenRequests;
    // Both past V8's tiering before the first window (phase-tail's warm-up, for the same reason).
    await runSharedRate({ binary: generator.path, urls: [a.envoy.url, b.envoy.url], requestsFile, ratePerUrl: rate, connections: CONNECTIONS, durationS: plan.tailWarmS });
    const run: SameWindowRun = { binary: generator.path, requestsFile, rate, connections: CONNECTIONS, durationS: plan.fixedS, reps: 2 * plan.fixedReps };
    const reps = await sameWindow(a, b, run);
    // Resident memory of each process tree right after its last window under load: what a variant costs in memory.
    const rss = { a: treeRssBytes(candidate.pid), b: treeRssBytes(baseline.pid) };
    ctx.hotPathTokenRequests += ctx.world.standin.tokenRequests - tokensBefore;
    const ratios = cpuRatios(reps);
    ctx.rows.push({
      section: "ab",
      label: `${subjects.candidate} ÷ ${subjects.baseline}, CPU µs/req through Envoy, same window`,
      value: `${median(ratios).toFixed(3)}× (per window ${ratios.map((v) => v.toFixed(3)).join(", ")}); ${sameWindowSummary(reps, { a: subjects.candidate, b: subjects.baseline })}; p99 ${subjects.candidate} ${p99PerWindow(reps, "a")}, ${subjects.baseline} ${p99PerWindow(reps, "b")}; RSS after the last window ${mib(rss.a)} / ${mib(rss.b)} MiB (process tree)`,
      command: `${sameWindowCommand(run)}; candidate: ${candidate.command}; baseline: ${baseline.command}`,
    });
    // Judged like a target so that a difference the windows cannot separate says so; it is no target of its own.
    ctx.targets.push(
      judged({
        name: `A/B: ${subjects.candidate}'s CPU per request against ${subjects.baseline}'s`,
        goal: "≤ 1.00× (no more CPU than the baseline)",
        values: ratios,
        limit: 1,
        unit: "×",
        measured: `${reps.length} windows of ${plan.fixedS} s, each at ${rate.toLocaleString("en-US")} req/s`,
      }),
      judged({
        name: `A/B: ${subjects.candidate}'s p99 against ${subjects.baseline}'s`,
        goal: "≤ the baseline's + 0.5 ms (issue 15's tail goal)",
        values: p99Differences(reps),
        limit: 0.5,
        unit: "ms",
        measured: `${subjects.candidate} − ${subjects.baseline} p99 per window, ${reps.length} windows of ${plan.fixedS} s`,
      }),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}
