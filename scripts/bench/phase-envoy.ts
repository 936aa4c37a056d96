// c. HTTP load through a real Envoy: Envoy alone, Envoy + the trivial grpc-js server, Envoy + the grpc-js decode
// floor (the trivial server decoding every request with the generated code), Envoy + the native grpc-go
// floor, Envoy + the OPA peer (Rego engine, grpc-go), Envoy + scopegate, Envoy + scopegate with a decision line
// per check, allows too (logging.decisions: all), all in front of the same direct_response
// upstream; unlimited rate (wrk: throughput ratios, added latency) and a constant ~1,000 req/s (vegeta, constant rate; the p99 and CPU targets of
// issues 5 and 15). The fixed-rate rows are `fixedReps` rotated repetitions (A B C D, B C D A, …): medians, the
// spread between repetitions, and targets judged on the paired differences of each repetition, so a run whose
// repetitions disagree by more than the margin says it cannot judge. CPU µs/req is the authz server's. The CPU and p99
// targets are judged a second time with scopegate and the trivial server loaded in the same windows (same-window.ts).
import { join } from "node:path";
import type { Envoy } from "../../test/support/envoy.js";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import type { Context } from "./context.js";
import { EDGE_CONCURRENCY, EDGE_TEMPLATE, startEdge, startUpstream, type EdgeKind } from "./envoys.js";
import type { LoadResult } from "./load-result.js";
import { interleave, stealPerRepetition, withCpu, withSteal, type Measured } from "./phase-direct.js";
import { rateCommand, rateGenerator, runRate, writeRateRequests, type RateRun } from "./vegeta.js";
import { cpuRatios, p99Differences, p99PerWindow, sameWindow, sameWindowCommand, sameWindowSummary, type SameWindowRep, type SameWindowRun, type Side } from "./same-window.js";
import { judged, median, medianLoad, spreadOf, type Target } from "./report.js";
import { runWrk, wrkCommand, writeWrkScript, type WrkRun } from "./wrk.js";

interface Edge {
  readonly name: string;
  readonly envoy: Envoy;
  /** The authz server behind it, whose CPU is charged to the requests. */
  readonly authzPid?: number;
}

const DECODE_EDGE = "Envoy + grpc-js decode floor";
const WIRE_EDGE = "Envoy + wire-reader floor (scopegate's reader)";
const NATIVE_EDGE = "Envoy + native server (grpc-go)";
const OPA_EDGE = "Envoy + OPA peer (Rego, grpc-go)";
const TRIVIAL_EDGE = "Envoy + trivial server";
const SCOPEGATE_EDGE = "Envoy + scopegate";
const ALL_LINES_EDGE = "Envoy + scopegate, logging.decisions: all";
export const SAME_WINDOW_TARGET = "CPU per request through Envoy, same window (issue 15)";
export const SAME_WINDOW_P99_TARGET = "p99 through Envoy against the trivial server, same window (issue 15)";
export const EQUAL_CPU_P99_TARGET = "p99 through Envoy against a server of scopegate's CPU per check, same window (issue 15)";
const UNLIMITED = { threads: 1, connections: 16 };
const FIXED = { threads: 1, connections: 20 };

/** An authz server behind an edge Envoy: its process (CPU) and its unix socket. */
export interface EnvoyAuthz {
  readonly pid: number;
  readonly unixSocket: string;
}

/**
 * The rows beside scopegate and the trivial server, each when it runs: the grpc-js decode floor, the wire-reader
 * floor (the trivial server reading every request with scopegate's own reader), the native grpc-go floor, the OPA
 * peer, and scopegate with a decision line per check, allows too (the share of a line per allow).
 */
export interface EnvoyPeers {
  readonly decodeFloor?: EnvoyAuthz | undefined;
  readonly wireFloor?: EnvoyAuthz | undefined;
  readonly allDecisions?: EnvoyAuthz | undefined;
  readonly native?: EnvoyAuthz | undefined;
  readonly opa?: EnvoyAuthz | undefined;
  /**
   * Starts the trivial server spinning `burnUs` per check (trivial-server.ts --burn-us): a server of scopegate's CPU
   * per check and nothing else, against which the same-window p99 shows the tail scopegate adds beyond its CPU.
   */
  readonly equalCpu?: ((burnUs: number) => Promise<EnvoyAuthz & { stop(): Promise<void> }>) | undefined;
}

export async function envoyPhase(ctx: Context, scopegate: EnvoyAuthz, trivial: EnvoyAuthz, peers: EnvoyPeers): Promise<void> {
  const { decodeFloor, wireFloor, allDecisions, native, opa, equalCpu } = peers;
  const { plan } = ctx;
  const stops: (() => Promise<void>)[] = [];
  try {
    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const edges: Edge[] = [];
    const subjects: [string, EdgeKind, number | undefined][] = [
      ["Envoy alone", { kind: "passthrough" }, undefined],
      [TRIVIAL_EDGE, { kind: "ext_authz", unixSocket: trivial.unixSocket }, trivial.pid],
    ];
    if (decodeFloor) subjects.push([DECODE_EDGE, { kind: "ext_authz", unixSocket: decodeFloor.unixSocket }, decodeFloor.pid]);
    if (wireFloor) subjects.push([WIRE_EDGE, { kind: "ext_authz", unixSocket: wireFloor.unixSocket }, wireFloor.pid]);
    if (native) subjects.push([NATIVE_EDGE, { kind: "ext_authz", unixSocket: native.unixSocket }, native.pid]);
    if (opa) subjects.push([OPA_EDGE, { kind: "ext_authz", unixSocket: opa.unixSocket }, opa.pid]);
    subjects.push([SCOPEGATE_EDGE, { kind: "ext_authz", unixSocket: scopegate.unixSocket }, scopegate.pid]);
    if (allDecisions) subjects.push([ALL_LINES_EDGE, { kind: "ext_authz", unixSocket: allDecisions.unixSocket }, allDecisions.pid]);
    for (const [name, kind, pid] of subjects) {
      const envoy = await startEdge(kind, upstream);
      stops.push(() => envoy.stop());
      edges.push({ name, envoy, ...(pid === undefined ? {} : { authzPid: pid }) });
    }
    const script = join(ctx.dir, "requests.lua");
    await writeWrkScript(
      script,
      requestSpecs(ctx.hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })),
    );
    for (const e of edges) await expectOk(e, ctx.hot[0]!);

    const wrkFor = (e: Edge, shape: { threads: number; connections: number }, durationS: number, rate?: number): WrkRun => ({
      url: e.envoy.url,
      scriptFile: script,
      ...shape,
      durationS,
      ...(rate ? { rate } : {}),
    });
    const runOne = (e: Edge, run: WrkRun): Promise<Measured> =>
      e.authzPid === undefined ? withSteal(() => runWrk(run)) : withCpu(e.authzPid, () => runWrk(run));
    for (const e of edges) await runWrk(wrkFor(e, UNLIMITED, plan.warmS));

    const alone = edges[0]!;
    const unlimited = await interleave(edges, plan.rounds, (e) => runOne(e, wrkFor(e, UNLIMITED, plan.envoyS)));
    report(ctx, "envoy", edges, alone, unlimited, (e) => wrkCommand(wrkFor(e, UNLIMITED, plan.envoyS)));
    // The fixed rate: vegeta (constant rate, open model, no coordinated omission); wrk with pauses when it is missing.
    const generator = rateGenerator();
    const requestsFile = join(ctx.dir, "rate-requests.json");
    await writeRateRequests(requestsFile, requestSpecs(ctx.hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })));
    const rateFor = (e: Edge, binary: string): RateRun => ({ binary, url: e.envoy.url, requestsFile, rate: plan.fixedRate, connections: FIXED.connections, durationS: plan.fixedS });
    const fixedRun = (e: Edge): Promise<Measured> => {
      const load = "path" in generator ? () => runRate(rateFor(e, generator.path)) : () => runWrk(wrkFor(e, FIXED, plan.fixedS, plan.fixedRate));
      return e.authzPid === undefined ? withSteal(load) : withCpu(e.authzPid, load);
    };
    const fixedCommand = (e: Edge): string => ("path" in generator ? rateCommand(rateFor(e, generator.path)) : wrkCommand(wrkFor(e, FIXED, plan.fixedS, plan.fixedRate)));
    const fixed = await interleave(edges, plan.fixedReps, fixedRun);
    const added = report(ctx, "envoy-fixed", edges, alone, fixed, fixedCommand);
    const byName = (name: string): Edge | undefined => edges.find((e) => e.name === name);
    const sgRuns = fixed.get(byName(SCOPEGATE_EDGE)!)!;
    const tvRuns = fixed.get(byName(TRIVIAL_EDGE)!)!;
    const nvRuns = native ? fixed.get(byName(NATIVE_EDGE)!)! : undefined;
    const dfRuns = decodeFloor ? fixed.get(byName(DECODE_EDGE)!)! : undefined;
    const wfRuns = wireFloor ? fixed.get(byName(WIRE_EDGE)!)! : undefined;
    const alRuns = allDecisions ? fixed.get(byName(ALL_LINES_EDGE)!)! : undefined;
    const opaRuns = opa ? fixed.get(byName(OPA_EDGE)!)! : undefined;
    const aloneRuns = fixed.get(alone)!;
    const sg = added.get(SCOPEGATE_EDGE)!;
    const tv = added.get(TRIVIAL_EDGE)!;
    const nv = added.get(NATIVE_EDGE);
    const paired = (a: readonly Measured[], b: readonly Measured[], f: (x: Measured, y: Measured) => number): number[] => a.map((x, i) => f(x, b[i]!));
    const nativeP99 = nvRuns ? `; native grpc-go floor p99 ${median(nvRuns.map((r) => r.p99)).toFixed(2)} ms, scopegate ${signedMs(median(paired(sgRuns, nvRuns, (x, y) => x.p99 - y.p99)))} over it` : "";
    const opaP99 = opaRuns ? `; OPA peer p99 ${median(opaRuns.map((r) => r.p99)).toFixed(2)} ms, scopegate ${signedMs(median(paired(sgRuns, opaRuns, (x, y) => x.p99 - y.p99)))} over it` : "";
    const cpuOf = (runs: readonly Measured[]): string => median(runs.map((r) => r.cpuUsPerReq ?? Number.NaN)).toFixed(0);
    /** Per repetition, a's CPU per request ÷ b's in the same rotation round. */
    const cpuRatios = (a: readonly Measured[], b: readonly Measured[]): number[] => paired(a, b, (x, y) => (x.cpuUsPerReq ?? Number.NaN) / (y.cpuUsPerReq ?? Number.NaN));
    const cpuRatioOf = (a: readonly Measured[], b: readonly Measured[]): string => median(cpuRatios(a, b)).toFixed(2);
    const cpuRatio = (runs: readonly Measured[]): string => cpuRatioOf(sgRuns, runs);
    const decodeP99 = dfRuns ? `; grpc-js decode floor p99 ${median(dfRuns.map((r) => r.p99)).toFixed(2)} ms` : "";
    ctx.targets.push(
      judged({
        name: "added p99 through Envoy",
        goal: `≤ 1 ms over Envoy alone at ${plan.fixedRate.toLocaleString("en-US")} req/s`,
        values: paired(sgRuns, aloneRuns, (x, y) => x.p99 - y.p99),
        limit: 1,
        unit: "ms",
        measured: `${signedMs(sg.p99)} p99 (${signedMs(sg.p50)} p50) at ${Math.round(sg.rps)} req/s; the trivial server adds ${signedMs(tv.p99)} p99 (${signedMs(tv.p50)} p50) on the same path, so scopegate's own share is ${signedMs(sg.p99 - tv.p99)} p99, ${signedMs(sg.p50 - tv.p50)} p50${
          nv ? `; the native grpc-go floor adds ${signedMs(nv.p99)} p99 (${signedMs(nv.p50)} p50), scopegate ${signedMs(sg.p99 - nv.p99)} p99 over it` : ""
        }`,
      }),
      judged({
        name: "p99 through Envoy against the trivial server (issue 15)",
        goal: `scopegate's p99 ≤ the trivial grpc-js server's + 0.5 ms at ${plan.fixedRate.toLocaleString("en-US")} req/s`,
        values: paired(sgRuns, tvRuns, (x, y) => x.p99 - y.p99),
        limit: 0.5,
        unit: "ms",
        measured: `p99 scopegate ${median(sgRuns.map((r) => r.p99)).toFixed(2)} ms, trivial ${median(tvRuns.map((r) => r.p99)).toFixed(2)} ms${decodeP99}${nativeP99}${opaP99}${stealPerRepetition(sgRuns, tvRuns)}`,
      }),
      judged({
        name: "CPU per request through Envoy (issue 15)",
        goal: `≤ 1.15× the trivial grpc-js server's at ${plan.fixedRate.toLocaleString("en-US")} req/s`,
        values: cpuRatios(sgRuns, tvRuns),
        limit: 1.15,
        unit: "×",
        measured: `scopegate ${cpuOf(sgRuns)} µs/req, trivial ${cpuOf(tvRuns)} µs/req${
          dfRuns ? `, grpc-js decode floor ${cpuOf(dfRuns)} µs/req (${cpuRatioOf(dfRuns, tvRuns)}× the trivial server's; scopegate ${cpuRatio(dfRuns)}× of it)` : ""
        }${
          wfRuns
            ? `, wire-reader floor ${cpuOf(wfRuns)} µs/req (${cpuRatioOf(wfRuns, tvRuns)}× the trivial server's, per repetition ${cpuRatios(wfRuns, tvRuns).map((v) => v.toFixed(2)).join(", ")}; scopegate ${cpuRatio(wfRuns)}× of it)`
            : ""
        }${nvRuns ? `, native grpc-go ${cpuOf(nvRuns)} µs/req (scopegate ${cpuRatio(nvRuns)}× of it)` : ""}${
          opaRuns ? `, OPA peer ${cpuOf(opaRuns)} µs/req (scopegate ${cpuRatio(opaRuns)}× of it)` : ""
        }${
          alRuns ? `; scopegate with logging.decisions: all ${cpuOf(alRuns)} µs/req (${cpuRatioOf(alRuns, tvRuns)}× the trivial server's, per repetition ${cpuRatios(alRuns, tvRuns).map((v) => v.toFixed(2)).join(", ")})` : ""
        }${stealPerRepetition(sgRuns, tvRuns)}`,
      }),
    );
    if ("path" in generator) {
      const run: SameWindowRun = { binary: generator.path, requestsFile, rate: plan.fixedRate, connections: FIXED.connections, durationS: plan.fixedS, reps: plan.fixedReps };
      const sgEdge = byName(SCOPEGATE_EDGE)!;
      const sg: Side = { envoy: sgEdge.envoy, pid: sgEdge.authzPid! };
      const pair = await sameWindowTargets(ctx, run, sg, byName(TRIVIAL_EDGE)!);
      ctx.targets.push(...pair.targets);
      ctx.notes.push(pair.note);
      if (equalCpu) {
        const equal = await equalCpuTarget(ctx, run, sg, pair.reps, equalCpu, upstream, stops);
        ctx.targets.push(equal.target);
        ctx.notes.push(equal.note);
      }
    }
    ctx.notes.push(
      `Through-Envoy rows: edge Envoy ${EDGE_CONCURRENCY} workers from \`${EDGE_TEMPLATE}\` (ext_authz over the unix socket, as the Kubernetes sidecar base runs it) or \`passthroughEnvoyConfig\` (no ext_authz); upstream: a second Envoy (1 worker) answering with direct_response. The requests (wrk and vegeta alike) rotate over ${ctx.hot.length} tenants and 5 routes with browser-like headers. "Hypervisor steal": per repetition, in order, the share of the machine's CPU time that /proc/stat counts as stolen (the hypervisor running something else while this VM had work; proc(5)) — noise from outside the VM, which no row here controls.`,
      "path" in generator
        ? `Fixed rate: vegeta v12.13.0 (github.com/tsenart/vegeta, go-installed by scripts/install-tools.sh; wrk2 is not packaged for Debian), an open-model generator: requests start on a fixed schedule at ${plan.fixedRate.toLocaleString("en-US")} req/s, each on a worker of its own, over at most ${FIXED.connections} keep-alive HTTP/1.1 connections, so a slow answer does not delay the requests after it (no coordinated omission); a request waiting for a free connection is timed from its start. ${plan.fixedReps} rotated repetitions of ${plan.fixedS} s per row (A B C D, B C D A, …); the row is the median; the targets are judged on each repetition's paired difference (or ratio) with the trivial server or Envoy alone: "cannot judge" when those differ between repetitions by more than the distance from the median to the goal.`
        : `Fixed rate: ${generator.missing}; fell back to wrk with a random pause per connection (about ${plan.fixedRate} req/s when answers take ~1 ms, less when slower; a slow answer delays its connection's next request unseen).`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** Adds the rows; returns each edge's added p50/p99 over Envoy alone. */
function report(
  ctx: Context,
  section: "envoy" | "envoy-fixed",
  edges: readonly Edge[],
  alone: Edge,
  runs: Map<Edge, Measured[]>,
  command: (e: Edge) => string,
): Map<string, LoadResult> {
  const base = medianLoad(runs.get(alone)!);
  const added = new Map<string, LoadResult>();
  for (const e of edges) {
    const load = medianLoad(runs.get(e)!);
    const d = { ...load, p50: load.p50 - base.p50, p99: load.p99 - base.p99 };
    added.set(e.name, d);
    const runsOf = runs.get(e)!;
    const spread = spreadOf(runsOf);
    const steal = runsOf.map((r) => r.stealPct).filter((x): x is number => x !== undefined);
    const stealText = steal.length > 0 ? `; hypervisor steal ${steal.map((x) => x.toFixed(1)).join(", ")} %` : "";
    const spreadText =
      runsOf.length > 1
        ? `; ${runsOf.length} repetitions, spread p50 ${spread.p50.toFixed(2)} ms, p99 ${spread.p99.toFixed(2)} ms${Number.isNaN(spread.cpu) ? "" : `, CPU ${spread.cpu.toFixed(0)} µs/req`}${stealText}`
        : stealText;
    const versus =
      (e === alone ? "baseline" : `${(load.rps / base.rps).toFixed(2)}× req/s, ${signedMs(d.p50)} p50, ${signedMs(d.p99)} p99`) + spreadText;
    ctx.rows.push({ section, label: e.name, load, versus, command: command(e) });
  }
  return added;
}

/**
 * The CPU and p99 targets again, with scopegate and the trivial server measured in the same window (same-window.ts),
 * each at the fixed rate: a stall of the machine lands on both sides' latencies, one server's own pause on its own. The cost: the machine carries both edges at once (each server still answers `fixedRate` req/s;
 * the shared upstream twice that). The windows are returned for the equal-CPU check (equalCpuTarget).
 */
async function sameWindowTargets(
  ctx: Context,
  run: SameWindowRun,
  sg: Side,
  tvEdge: Edge,
): Promise<{ targets: Target[]; note: string; reps: SameWindowRep[] }> {
  const { plan } = ctx;
  const reps = await sameWindow(sg, { envoy: tvEdge.envoy, pid: tvEdge.authzPid! }, run);
  const summary = sameWindowSummary(reps, { a: "scopegate", b: "trivial" });
  return {
    reps,
    targets: [
      judged({
        name: SAME_WINDOW_P99_TARGET,
        goal: `scopegate's p99 ≤ the trivial grpc-js server's + 0.5 ms, both at ${plan.fixedRate.toLocaleString("en-US")} req/s at once`,
        values: p99Differences(reps),
        limit: 0.5,
        unit: "ms",
        measured: `p99 scopegate ${p99PerWindow(reps, "a")}, trivial ${p99PerWindow(reps, "b")}; ${summary}`,
      }),
      judged({
        name: SAME_WINDOW_TARGET,
        goal: `≤ 1.15× the trivial grpc-js server's, both at ${plan.fixedRate.toLocaleString("en-US")} req/s at once`,
        values: cpuRatios(reps),
        limit: 1.15,
        unit: "×",
        measured: summary,
      }),
    ],
    note: `"Same window" (the CPU and p99 targets' second rows): ${plan.fixedReps} windows of ${plan.fixedS} s, each one vegeta attack at ${(2 * plan.fixedRate).toLocaleString("en-US")} req/s whose targets alternate between the trivial server's edge and scopegate's (the same requests to each; which edge gets the first alternates between windows), so both servers answer ${plan.fixedRate.toLocaleString("en-US")} req/s during the same seconds and their CPU is read over the same window: anything that changes the machine's speed lands on both. \`${sameWindowCommand(run)}\`.`,
  };
}

/**
 * The p99 once more, against the trivial server spinning what scopegate spent per check above the trivial server in
 * the same-window windows (`before`), on an edge of its own: what is left of scopegate's extra tail is its own (a
 * pause, a timer), not its CPU. The server and its edge join `stops`.
 */
async function equalCpuTarget(
  ctx: Context,
  run: SameWindowRun,
  sg: Side,
  before: readonly SameWindowRep[],
  start: NonNullable<EnvoyPeers["equalCpu"]>,
  upstream: Awaited<ReturnType<typeof startUpstream>>,
  stops: (() => Promise<void>)[],
): Promise<{ target: Target; note: string }> {
  const { plan } = ctx;
  // At least 1 µs: a scopegate no dearer than the trivial server is compared with (almost) the trivial server.
  const burnUs = Math.max(1, Math.round(median(before.map((r) => r.a.cpuUsPerReq - r.b.cpuUsPerReq))));
  const server = await start(burnUs);
  stops.push(() => server.stop());
  const envoy = await startEdge({ kind: "ext_authz", unixSocket: server.unixSocket }, upstream);
  stops.push(() => envoy.stop());
  await expectOk({ name: `Envoy + trivial server spinning ${burnUs} µs`, envoy }, ctx.hot[0]!);
  await runRate({ binary: run.binary, url: envoy.url, requestsFile: run.requestsFile, rate: run.rate, connections: run.connections, durationS: plan.warmS });
  const reps = await sameWindow(sg, { envoy, pid: server.pid }, run);
  const ratios = cpuRatios(reps);
  return {
    target: judged({
      name: EQUAL_CPU_P99_TARGET,
      goal: `scopegate's p99 ≤ that server's + 0.5 ms, both at ${plan.fixedRate.toLocaleString("en-US")} req/s at once: the tail scopegate adds beyond its CPU per check`,
      values: p99Differences(reps),
      limit: 0.5,
      unit: "ms",
      measured: `the trivial server spinning ${burnUs} µs per check (scopegate's CPU per request above the trivial server's in the windows before); p99 scopegate ${p99PerWindow(reps, "a")}, that server ${p99PerWindow(reps, "b")}; CPU scopegate ÷ it ${median(ratios).toFixed(2)}× (per window ${ratios.map((v) => v.toFixed(2)).join(", ")}); ${sameWindowSummary(reps, { a: "scopegate", b: `spinning ${burnUs} µs` })}`,
    }),
    note: `The p99 once more against a server of scopegate's CPU per check: the trivial server spinning on the clock, per check, the median of scopegate's CPU per request minus the trivial server's in the same-window windows (\`trivial-server.ts --burn-us <n>\`, its own edge), in ${plan.fixedReps} more windows the same way.`,
  };
}

function signedMs(ms: number): string {
  return `${ms < 0 ? "−" : "+"}${Math.abs(ms).toFixed(2)} ms`;
}

async function expectOk(e: Edge, tenant: string): Promise<void> {
  const res = await fetch(`${e.envoy.url}/api/v2/flows`, { headers: { "x-tenant-id": tenant }, signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`${e.name}: expected 200 through Envoy, got ${res.status} (${res.headers.get("x-scopegate-reason") ?? ""})`);
}
