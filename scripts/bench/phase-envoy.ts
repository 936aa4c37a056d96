// c. HTTP load through a real Envoy (wrk): Envoy alone, Envoy + scopegate, Envoy + the trivial server, all in
// front of the same direct_response upstream; unlimited rate (throughput ratios, added latency) and a fixed
// ~1,000 req/s (the "adds ≤ 1 ms p99" target). CPU µs/req is the authz server's.
import { join } from "node:path";
import type { Envoy } from "../../test/support/envoy.js";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import type { Context } from "./context.js";
import { EDGE_CONCURRENCY, EDGE_TEMPLATE, startEdge, startUpstream, type EdgeKind } from "./envoys.js";
import type { LoadResult } from "./load-result.js";
import { interleave, withCpu, type Measured } from "./phase-direct.js";
import { medianLoad } from "./report.js";
import { runWrk, wrkCommand, writeWrkScript, type WrkRun } from "./wrk.js";

interface Edge {
  readonly name: string;
  readonly envoy: Envoy;
  /** The authz server behind it, whose CPU is charged to the requests. */
  readonly authzPid?: number;
}

const NATIVE_EDGE = "Envoy + native server (grpc-go)";
const UNLIMITED = { threads: 1, connections: 16 };
const FIXED = { threads: 1, connections: 20 };

export async function envoyPhase(
  ctx: Context,
  scopegate: { pid: number; unixSocket: string },
  trivial: { pid: number; unixSocket: string },
  native?: { pid: number; unixSocket: string },
): Promise<void> {
  const { plan } = ctx;
  const stops: (() => Promise<void>)[] = [];
  try {
    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const edges: Edge[] = [];
    const subjects: [string, EdgeKind, number | undefined][] = [
      ["Envoy alone", { kind: "passthrough" }, undefined],
      ["Envoy + scopegate", { kind: "ext_authz", unixSocket: scopegate.unixSocket }, scopegate.pid],
      ["Envoy + trivial server", { kind: "ext_authz", unixSocket: trivial.unixSocket }, trivial.pid],
    ];
    if (native) subjects.push([NATIVE_EDGE, { kind: "ext_authz", unixSocket: native.unixSocket }, native.pid]);
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
      e.authzPid === undefined ? runWrk(run) : withCpu(e.authzPid, () => runWrk(run));
    for (const e of edges) await runWrk(wrkFor(e, UNLIMITED, plan.warmS));

    const alone = edges[0]!;
    const unlimited = await interleave(edges, plan.rounds, (e) => runOne(e, wrkFor(e, UNLIMITED, plan.envoyS)));
    report(ctx, "envoy", edges, alone, unlimited, (e) => wrkCommand(wrkFor(e, UNLIMITED, plan.envoyS)));
    const fixed = await interleave(edges, plan.rounds, (e) => runOne(e, wrkFor(e, FIXED, plan.fixedS, plan.fixedRate)));
    const added = report(ctx, "envoy-fixed", edges, alone, fixed, (e) => wrkCommand(wrkFor(e, FIXED, plan.fixedS, plan.fixedRate)));
    const sg = added.get("Envoy + scopegate")!;
    const tv = added.get("Envoy + trivial server")!;
    const nv = added.get(NATIVE_EDGE);
    // A p99 over ~10,000 requests on a shared 2-core machine moves by milliseconds between rounds: when Envoy
    // alone's p99 comes out above Envoy + scopegate's, the noise is larger than what is measured, and the
    // target is reported as not judged rather than met.
    const judged = sg.p99 >= 0;
    ctx.targets.push({
      name: "added p99 through Envoy",
      goal: `≤ 1 ms over Envoy alone at ${plan.fixedRate.toLocaleString("en-US")} req/s`,
      measured: `${signedMs(sg.p99)} p99 (${signedMs(sg.p50)} p50) at ${Math.round(sg.rps)} req/s; the trivial server adds ${signedMs(tv.p99)} p99 (${signedMs(tv.p50)} p50) on the same path, so scopegate's own share is ${signedMs(sg.p99 - tv.p99)} p99, ${signedMs(sg.p50 - tv.p50)} p50${
        nv ? `; the native grpc-go floor adds ${signedMs(nv.p99)} p99 (${signedMs(nv.p50)} p50), scopegate ${signedMs(sg.p99 - nv.p99)} p99 over it` : ""
      }`,
      met: judged ? sg.p99 <= 1 : undefined,
      verdict: !judged ? "not judged: Envoy alone's p99 came out above Envoy + scopegate's (noise larger than the difference)" : sg.p99 <= 1 ? "met" : `missed by ${(sg.p99 - 1).toFixed(2)} ms`,
    });
    ctx.notes.push(
      `Through-Envoy rows: edge Envoy ${EDGE_CONCURRENCY} workers from \`${EDGE_TEMPLATE}\` (ext_authz over the unix socket, as the Kubernetes sidecar base runs it) or \`passthroughEnvoyConfig\` (no ext_authz); upstream: a second Envoy (1 worker) answering with direct_response. wrk requests rotate over ${ctx.hot.length} tenants and 5 routes with browser-like headers.`,
      "Fixed rate: wrk2 is not packaged for Debian and `hey` is not installed by scripts/install-tools.sh, so the rate comes from wrk's own `delay()` hook: each of 20 connections pauses a random 0–38 ms (mean 19 ms) between requests: 1,000 req/s when a response takes 1 ms, a little less when slower. The randomness matters: with a fixed pause the connections stay in lockstep and every 20 ms a burst of 20 requests queues at the authz server. wrk times each request from its own send, so pauses are not counted; the achieved rate is in the req/s column.",
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
    const versus =
      e === alone
        ? "baseline"
        : `${(load.rps / base.rps).toFixed(2)}× req/s, ${signedMs(d.p50)} p50, ${signedMs(d.p99)} p99`;
    ctx.rows.push({ section, label: e.name, load, versus, command: command(e) });
  }
  return added;
}

function signedMs(ms: number): string {
  return `${ms < 0 ? "−" : "+"}${Math.abs(ms).toFixed(2)} ms`;
}

async function expectOk(e: Edge, tenant: string): Promise<void> {
  const res = await fetch(`${e.envoy.url}/api/v2/flows`, { headers: { "x-tenant-id": tenant }, signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`${e.name}: expected 200 through Envoy, got ${res.status} (${res.headers.get("x-scopegate-reason") ?? ""})`);
}
