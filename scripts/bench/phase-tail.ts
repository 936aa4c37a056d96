// Where scopegate's tail through Envoy comes from (issue 15): scopegate and the trivial grpc-js server, each in a
// fresh process with scripts/bench/tail-probe.mjs loaded (an event-loop delay histogram and every GC pause, per
// measured window), behind their own edge Envoy, under the same constant-rate load (rate-http, ~1,000 req/s).
// Variants of scopegate isolate the candidates: the heap flags the image ships against a larger young
// generation, and the decision log line on and off. Repetitions rotate (A B C, B C A, C A B); medians and the
// spread between repetitions are reported. Then one --cpu-prof run of scopegate and of the trivial server under
// the same load, summarised side by side.
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import { cpuMs } from "./child.js";
import { sleepMs, type Context } from "./context.js";
import { startEdge, startUpstream } from "./envoys.js";
import { interleave, type Measured } from "./phase-direct.js";
import { BOUNDED_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { summariseProfile } from "./profile.js";
import { buildRateHttp, rateCommand, runRate, writeRateRequests, type RateRun } from "./rate-http.js";
import { median, medianLoad, spreadOf } from "./report.js";
import { startScopegate } from "./scopegate-process.js";
import { startTrivial } from "./trivial-process.js";
import type { Envoy } from "../../test/support/envoy.js";

const PROBE = join(repoRoot, "scripts/bench/tail-probe.mjs");
const PROBE_ENV = "SCOPEGATE_TAIL_PROBE_OUT";

interface Running {
  readonly pid: number;
  readonly unixSocket: string;
  readonly command: string;
  stop(): Promise<void>;
}

interface Subject {
  readonly name: string;
  start(extraFlags: readonly string[], env: Readonly<Record<string, string>>): Promise<Running>;
}

interface ProbeReport {
  readonly windowMs: number;
  readonly eld: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number; readonly count: number; readonly resolutionMs: number };
  readonly gc: readonly { readonly kind: string; readonly ms: number }[];
}

type Window = Measured & { readonly probe: ProbeReport };

export async function tailPhase(ctx: Context, response: Buffer): Promise<void> {
  const { plan } = ctx;
  const generator = buildRateHttp(ctx.dir);
  if ("missing" in generator) throw new Error(`the tail phase needs the constant-rate generator: ${generator.missing}`);
  const rateHttp = generator.path;
  const subjects: Subject[] = [
    {
      name: "trivial grpc-js (V8 defaults)",
      start: async (flags, env) => {
        const t = await startTrivial(ctx.dir, response, { name: "tail-trivial", nodeFlags: flags, env });
        return { pid: t.child.pid, unixSocket: t.unixSocket, command: t.command, stop: () => t.stop() };
      },
    },
    scopegateSubject(ctx, "scopegate as shipped", BOUNDED_HEAP, "all"),
    scopegateSubject(ctx, "scopegate +no-parallel-scavenge", [...BOUNDED_HEAP, "--no-parallel-scavenge"], "all"),
    scopegateSubject(ctx, "scopegate +single-threaded-gc", [...BOUNDED_HEAP, "--single-threaded-gc"], "all"),
    scopegateSubject(ctx, "scopegate semi16 +no-parallel-scavenge", ["--max-old-space-size=128", "--max-semi-space-size=16", "--no-parallel-scavenge"], "all"),
  ];

  const stops: (() => Promise<void>)[] = [];
  try {
    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const requestsFile = join(ctx.dir, "tail-requests.json");
    await writeRateRequests(requestsFile, requestSpecs(ctx.hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })));

    const running = new Map<Subject, { server: Running; edge: Envoy; probeFile: string }>();
    for (const s of subjects) {
      const probeFile = join(ctx.dir, `tail-probe-${subjects.indexOf(s)}.json`);
      const server = await s.start([`--import=${PROBE}`], { [PROBE_ENV]: probeFile });
      stops.push(() => server.stop());
      const edge = await startEdge({ kind: "ext_authz", unixSocket: server.unixSocket }, upstream);
      stops.push(() => edge.stop());
      running.set(s, { server, edge, probeFile });
    }
    const runFor = (s: Subject, durationS: number): RateRun => ({
      binary: rateHttp,
      url: running.get(s)!.edge.url,
      requestsFile,
      rate: plan.fixedRate,
      connections: 20,
      durationS,
    });
    for (const s of subjects) await runRate(runFor(s, plan.warmS));

    const windows = await interleave(subjects, plan.tailReps, async (s) => {
      const { server, probeFile } = running.get(s)!;
      process.kill(server.pid, "SIGUSR2"); // opens the window
      await sleepMs(50);
      const cpuBefore = cpuMs(server.pid);
      const r = await runRate(runFor(s, plan.tailS));
      const cpu = cpuMs(server.pid) - cpuBefore;
      await rm(probeFile, { force: true });
      process.kill(server.pid, "SIGUSR2"); // closes it: the probe writes its report
      const probe = await readProbe(probeFile);
      return { ...r, cpuUsPerReq: (cpu * 1000) / r.requests, probe } satisfies Window;
    });

    const base = medianLoad(windows.get(subjects[0]!)!);
    for (const s of subjects) {
      const w = windows.get(s)!;
      const load = medianLoad(w);
      const spread = spreadOf(w);
      const gc = (f: (p: ProbeReport) => number): number => median(w.map((x) => f(x.probe)));
      const minors = gc((p) => p.gc.filter((g) => g.kind === "minor").length);
      const majors = gc((p) => p.gc.filter((g) => g.kind === "major").length);
      const others = gc((p) => p.gc.filter((g) => g.kind !== "minor" && g.kind !== "major").length);
      const pausePer1k = gc((p) => p.gc.reduce((a, g) => a + g.ms, 0)) / (load.requests / w.length / 1000);
      const maxPause = gc((p) => Math.max(0, ...p.gc.map((g) => g.ms)));
      const over1ms = gc((p) => p.gc.filter((g) => g.ms >= 1).length);
      const meanMinor = gc((p) => {
        const m = p.gc.filter((g) => g.kind === "minor");
        return m.length === 0 ? 0 : m.reduce((a, g) => a + g.ms, 0) / m.length;
      });
      const eld = { p99: gc((p) => p.eld.p99), max: gc((p) => p.eld.max) };
      const vsBase = s === subjects[0] ? "baseline" : `${signed(load.p99 - base.p99)} ms p99, ${(load.cpuUsPerReq! / base.cpuUsPerReq!).toFixed(2)}× CPU`;
      ctx.rows.push({
        section: "tail",
        label: s.name,
        load,
        versus: `${vsBase}; spread p99 ${spread.p99.toFixed(2)} ms, CPU ${spread.cpu.toFixed(0)} µs; per ${plan.tailS} s: GC ${minors} minor (mean ${meanMinor.toFixed(2)} ms) + ${majors} major + ${others} incremental/weak-callback, max pause ${maxPause.toFixed(2)} ms, ${over1ms} ≥ 1 ms, ${pausePer1k.toFixed(1)} ms paused per 1,000 req; event-loop delay p99 ${eld.p99.toFixed(2)} ms, max ${eld.max.toFixed(2)} ms`,
        command: `${running.get(s)!.server.command} behind ${rateCommand(runFor(s, plan.tailS))}`,
      });
    }
    if (!process.env["SCOPEGATE_TAIL_NO_PROFILE"]) await profiles(ctx, subjects.slice(0, 2), upstream, requestsFile, rateHttp);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
  ctx.notes.push(
    `Tail rows: each server a fresh process with \`--import=scripts/bench/tail-probe.mjs\` (perf_hooks.monitorEventLoopDelay at ${2} ms resolution, PerformanceObserver "gc" entries: every pause --trace-gc would print), behind its own edge Envoy, ${plan.tailReps} rotated repetitions of ${plan.tailS} s at ${plan.fixedRate.toLocaleString("en-US")} req/s (rate-http); GC and event-loop figures are medians over the repetitions of what the probe saw in each measured window.`,
  );
}

function scopegateSubject(ctx: Context, name: string, heap: readonly string[], logDecisions: "all" | "denials"): Subject {
  return {
    name,
    start: async (flags, env) => {
      const sg = await startScopegate({
        world: ctx.world,
        dir: ctx.dir,
        name: `tail-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.slice(0, 40),
        configuredTenants: ctx.hot,
        logLevel: "info",
        logDecisions,
        nodeFlags: [...heap, ...flags],
        env: { ...SHIPPED_ENV, ...env },
      });
      return { pid: sg.child.pid, unixSocket: sg.udsTarget.slice("unix://".length), command: sg.command.replace(/--import=\S+/, "--import=scripts/bench/tail-probe.mjs"), stop: () => sg.stop() };
    },
  };
}

async function readProbe(file: string): Promise<ProbeReport> {
  for (let i = 0; i < 100; i++) {
    try {
      return JSON.parse(await readFile(file, "utf8")) as ProbeReport;
    } catch {
      await sleepMs(20);
    }
  }
  throw new Error(`no probe report in ${file}`);
}

/** One --cpu-prof run of each subject under the same load; self time by module, side by side. */
async function profiles(ctx: Context, subjects: readonly Subject[], upstream: Envoy, requestsFile: string, rateHttp: string): Promise<void> {
  for (const s of subjects) {
    const profDir = join(ctx.dir, `tail-prof-${subjects.indexOf(s)}`);
    await mkdir(profDir, { recursive: true });
    const server = await s.start(["--cpu-prof", `--cpu-prof-dir=${profDir}`], {});
    let edge: Envoy | undefined;
    try {
      edge = await startEdge({ kind: "ext_authz", unixSocket: server.unixSocket }, upstream);
      const run = { binary: rateHttp, url: edge.url, requestsFile, rate: ctx.plan.fixedRate, connections: 20, durationS: ctx.plan.tailS };
      await runRate({ ...run, durationS: ctx.plan.warmS });
      await runRate(run);
    } finally {
      await edge?.stop();
      await server.stop();
    }
    const file = (await readdir(profDir)).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`${s.name}: no .cpuprofile written`);
    const summary = await summariseProfile(join(profDir, file), 12);
    ctx.rows.push({
      section: "tail",
      label: `  CPU profile: ${s.name}`,
      value: `idle ${summary.idlePercent.toFixed(0)} % of its life; non-idle self time: ${summary.groups.slice(0, 10).map((g) => `${g.name} ${g.percent.toFixed(1)} %`).join(", ")}; top functions: ${summary.functions.slice(0, 8).map((f) => `\`${f.name}\` ${f.percent.toFixed(1)} %`).join(", ")}`,
      command: `node --cpu-prof … (as above) behind rate-http at ${ctx.plan.fixedRate} req/s for ${ctx.plan.tailS} s`,
    });
  }
}

function signed(v: number): string {
  return `${v < 0 ? "−" : "+"}${Math.abs(v).toFixed(2)}`;
}
