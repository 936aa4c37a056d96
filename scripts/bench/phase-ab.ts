// A/B of two builds of scopegate through Envoy, in the same window (same-window.ts): this checkout's dist/ and
// another build (`--baseline <dist folder>`), both as shipped (the image's heap flags and environment), each behind
// its own edge Envoy at the fixed rate while the other is loaded too. For judging a change to the Check path, whose
// effect (a few per cent) the rotated rows of one server at a time cannot separate from this machine's drift.
// Never part of a full run: `npm run bench -- --only ab --baseline <dist folder>`.
import { join } from "node:path";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import type { Context } from "./context.js";
import { startEdge, startUpstream } from "./envoys.js";
import { expectAllAllowed } from "./grpc-client.js";
import { BOUNDED_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { judged, median } from "./report.js";
import { cpuRatios, sameWindow, sameWindowCommand, type SameWindowRep, type SameWindowRun } from "./same-window.js";
import { startScopegate } from "./scopegate-process.js";
import { rateGenerator, runSharedRate, writeRateRequests } from "./vegeta.js";

const CONNECTIONS = 20;

export async function abPhase(ctx: Context, baselineDist: string): Promise<void> {
  const { plan, world, dir, hot } = ctx;
  const generator = rateGenerator();
  if (!("path" in generator)) throw new Error(`the A/B phase needs vegeta: ${generator.missing}`);
  const stops: (() => Promise<void>)[] = [];
  try {
    const start = (name: string, distDir?: string) =>
      startScopegate({ world, dir, name, configuredTenants: hot, logLevel: "info", nodeFlags: BOUNDED_HEAP, env: SHIPPED_ENV, ...(distDir ? { distDir } : {}) });
    const current = await start("ab-this-build");
    stops.push(() => current.stop());
    const baseline = await start("ab-baseline", baselineDist);
    stops.push(() => baseline.stop());
    for (const [sg, name] of [[current, "this build"], [baseline, "baseline"]] as const) await expectAllAllowed(sg.tcpTarget, ctx.hotRequests, `scopegate (${name})`);
    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const edgeFor = async (unixTarget: string) => {
      const envoy = await startEdge({ kind: "ext_authz", unixSocket: unixTarget.slice("unix://".length) }, upstream);
      stops.push(() => envoy.stop());
      return envoy;
    };
    const a = { envoy: await edgeFor(current.udsTarget), pid: current.child.pid };
    const b = { envoy: await edgeFor(baseline.udsTarget), pid: baseline.child.pid };
    const requestsFile = join(dir, "ab-requests.json");
    await writeRateRequests(requestsFile, requestSpecs(hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })));
    // Both builds past V8's tiering before the first window (phase-tail's warm-up, for the same reason).
    await runSharedRate({ binary: generator.path, urls: [a.envoy.url, b.envoy.url], requestsFile, ratePerUrl: plan.fixedRate, connections: CONNECTIONS, durationS: plan.tailWarmS });
    const run: SameWindowRun = { binary: generator.path, requestsFile, rate: plan.fixedRate, connections: CONNECTIONS, durationS: plan.fixedS, reps: 2 * plan.fixedReps };
    const reps = await sameWindow(a, b, run);
    const list = (f: (r: SameWindowRep) => number, digits: number): string => reps.map((r) => f(r).toFixed(digits)).join(", ");
    const errors = reps.reduce((n, r) => n + r.a.errors + r.b.errors, 0);
    const ratios = cpuRatios(reps);
    ctx.rows.push({
      section: "ab",
      label: `this build ÷ baseline (${baselineDist}), CPU µs/req through Envoy, same window`,
      value: `${median(ratios).toFixed(3)}× (per window ${ratios.map((v) => v.toFixed(3)).join(", ")}); this build ${median(reps.map((r) => r.a.cpuUsPerReq)).toFixed(0)} µs/req (${list((r) => r.a.cpuUsPerReq, 0)}), baseline ${median(reps.map((r) => r.b.cpuUsPerReq)).toFixed(0)} µs/req (${list((r) => r.b.cpuUsPerReq, 0)}); p50 ${median(reps.map((r) => r.a.p50)).toFixed(2)} / ${median(reps.map((r) => r.b.p50)).toFixed(2)} ms; ${errors} errors`,
      command: sameWindowCommand(run),
    });
    // Judged like a target so that a difference the windows cannot separate says so; it is no target of its own.
    ctx.targets.push(
      judged({
        name: "A/B: this build's CPU per request against the baseline's",
        goal: "≤ 1.00× (no more CPU than the baseline)",
        values: ratios,
        limit: 1,
        unit: "×",
        measured: `${reps.length} windows of ${plan.fixedS} s, each build at ${plan.fixedRate.toLocaleString("en-US")} req/s`,
      }),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
