// Where scopegate's tail through Envoy comes from (issue 15): scopegate and the trivial grpc-js server, each in a
// fresh process with scripts/bench/tail-probe.mjs loaded (an event-loop delay histogram and every GC pause, per
// measured window), behind their own edge Envoy, under the same constant-rate load (vegeta, ~1,000 req/s).
// Variants of scopegate isolate the candidates: the heap flags the image ships against a larger young
// generation, and the decision log line on and off. Repetitions rotate (A B C, B C A, C A B); medians and the
// spread between repetitions are reported. Then, for the trivial server and scopegate as shipped, side by side,
// windows under scripts/bench/window-probe.mjs: CPU profiles of rotated windows (median µs per request by module,
// and the difference) and one window of the objects that survived a scavenge (by allocating function).
// With --tail-variants, the scopegate processes are the ones the file names (node flags each) instead of the
// variants below, and only the measured windows are reported: a way to try V8 flags that anyone can rerun.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import { cpuMs } from "./child.js";
import { procCounters, procPerRequest, type ProcPerRequest } from "./proc-counters.js";
import { sleepMs, type Context } from "./context.js";
import { startEdge, startUpstream } from "./envoys.js";
import { interleave, type Measured } from "./phase-direct.js";
import { BOUNDED_HEAP, PREVIOUS_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { summariseHeapProfile, summariseProfile } from "./profile.js";
import { cpuDifference, cpuPerRequest, medianPerRequest, profileWindow, windowProbe, type PerRequest } from "./window-profile.js";
import { rateCommand, rateGenerator, runRate, writeRateRequests, type RateRun } from "./vegeta.js";
import { median, medianLoad, spreadOf } from "./report.js";
import { startScopegate } from "./scopegate-process.js";
import { startTrivial } from "./trivial-process.js";
import { tailProcessName, type TailVariant } from "./tail-variants.js";
import { markCompacts, PROBE, PROBE_ENV, promotedBytes, readProbe, type ProbeReport } from "./tail-probe-report.js";
import type { Envoy } from "../../test/support/envoy.js";

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

/** `proc`: what the kernel counted for the server during the window (proc-counters.ts), where /proc was readable. */
type Window = Measured & { readonly probe: ProbeReport; readonly proc?: ProcPerRequest | undefined };

export async function tailPhase(ctx: Context, response: Buffer, variants?: readonly TailVariant[]): Promise<void> {
  const { plan } = ctx;
  const generator = rateGenerator();
  if ("missing" in generator) throw new Error(`the tail phase needs the constant-rate generator: ${generator.missing}`);
  const generatorPath = generator.path;
  const subjects: Subject[] = [
    {
      name: "trivial grpc-js (V8 defaults)",
      start: async (flags, env) => {
        const t = await startTrivial(ctx.dir, response, { name: "tail-trivial", nodeFlags: flags, env });
        return { pid: t.child.pid, unixSocket: t.unixSocket, command: t.command, stop: () => t.stop() };
      },
    },
    scopegateSubject(ctx, `scopegate, before: ${PREVIOUS_HEAP.join(" ")}`, PREVIOUS_HEAP),
    scopegateSubject(ctx, `scopegate as shipped: ${BOUNDED_HEAP.join(" ")}`, BOUNDED_HEAP),
    // The decision log line is the largest part of what scopegate allocates per check on top of the transport:
    // the same process with a line per allow too (config logging.decisions: all; shipped: denials only) shows its share.
    // (--no-parallel-scavenge was a variant here until 2026-12-02: no case for it in two runs.)
    scopegateSubject(ctx, "scopegate as shipped, logging.decisions: all", BOUNDED_HEAP, "all"),
  ];
  if (variants) subjects.splice(1, subjects.length - 1, ...variants.map((v) => scopegateSubject(ctx, v.name, v.nodeFlags, undefined, v.renewStreamTableEvery)));


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
      binary: generatorPath,
      url: running.get(s)!.edge.url,
      requestsFile,
      rate: plan.fixedRate,
      connections: 20,
      durationS,
    });
    for (const s of subjects) await runRate(runFor(s, plan.tailWarmS));

    const windows = await interleave(subjects, plan.tailReps, async (s) => {
      const { server, probeFile } = running.get(s)!;
      process.kill(server.pid, "SIGUSR2"); // opens the window
      await sleepMs(50);
      const cpuBefore = cpuMs(server.pid);
      const procBefore = procCounters(server.pid);
      const r = await runRate(runFor(s, plan.tailS));
      const cpu = cpuMs(server.pid) - cpuBefore;
      const proc = procPerRequest(procBefore, procCounters(server.pid), r.requests + r.errors);
      await rm(probeFile, { force: true });
      process.kill(server.pid, "SIGUSR2"); // closes it: the probe writes its report
      const probe = await readProbe(probeFile);
      return { ...r, cpuUsPerReq: (cpu * 1000) / r.requests, probe, proc } satisfies Window;
    });

    const base = medianLoad(windows.get(subjects[0]!)!);
    const baseKernel = procMedians(windows.get(subjects[0]!)!);
    for (const s of subjects) {
      const w = windows.get(s)!;
      const load = medianLoad(w);
      const spread = spreadOf(w);
      const m = (f: (x: Window) => number): number => median(w.map(f));
      const scavenges = (p: ProbeReport) => p.gc.filter((g) => g.kind === "Scavenge");
      const perReq = (x: Window): number => x.requests + x.errors;
      const stats = {
        scavenges: m((x) => scavenges(x.probe).length),
        scavengeMean: m((x) => mean(scavenges(x.probe).map((g) => g.ms))),
        marks: m((x) => markCompacts(x.probe)),
        otherGc: m((x) => x.probe.gc.filter((g) => g.kind !== "Scavenge" && g.kind !== "MarkSweepCompact").length),
        maxPause: m((x) => Math.max(0, ...x.probe.gc.map((g) => g.ms))),
        over1ms: m((x) => x.probe.gc.filter((g) => g.ms >= 1).length),
        pausedPer1k: m((x) => (x.probe.gc.reduce((a, g) => a + g.ms, 0) * 1000) / perReq(x)),
        allocKb: m((x) => x.probe.allocatedBytes / 1024 / perReq(x)),
        promotedB: m((x) => promotedBytes(x.probe) / perReq(x)),
        newSpaceMb: m((x) => Math.max(0, ...x.probe.gc.map((g) => g.newSpace)) / 2 ** 20),
        eldP99: m((x) => x.probe.eld.p99),
        eldMax: m((x) => x.probe.eld.max),
      };
      const kernel = procMedians(w);
      const kernelVsBase =
        kernel && baseKernel
          ? ` (main thread ${(kernel.mainCpuUs / baseKernel.mainCpuUs).toFixed(2)}×, other threads ${signed(kernel.otherCpuUs - baseKernel.otherCpuUs, 0)} µs/req, wake-ups ${(kernel.wakeUps / baseKernel.wakeUps).toFixed(2)}×, system calls ${(kernel.syscalls / baseKernel.syscalls).toFixed(2)}×)`
          : "";
      const vsBase = s === subjects[0] ? "baseline" : `${signed(load.p99 - base.p99)} ms p99, ${(load.cpuUsPerReq! / base.cpuUsPerReq!).toFixed(2)}× CPU${kernelVsBase}`;
      ctx.rows.push({
        section: "tail",
        label: s.name,
        load,
        versus:
          `${vsBase}; spread p99 ${spread.p99.toFixed(2)} ms, CPU ${spread.cpu.toFixed(0)} µs/req; ` +
          `allocated ${stats.allocKb.toFixed(1)} KB/req, promoted ${stats.promotedB.toFixed(0)} B/req, new space ${stats.newSpaceMb.toFixed(0)} MB; ` +
          `per ${plan.tailS} s: ${stats.scavenges} scavenges (mean ${stats.scavengeMean.toFixed(2)} ms), ${stats.marks} mark-compacts, ${stats.otherGc} other GC callbacks, ` +
          `max pause ${stats.maxPause.toFixed(1)} ms, ${stats.over1ms} pauses ≥ 1 ms, ${stats.pausedPer1k.toFixed(1)} ms paused per 1,000 req; ` +
          `event-loop delay p99 ${stats.eldP99.toFixed(2)} ms, max ${stats.eldMax.toFixed(1)} ms` +
          (kernel
            ? `; kernel's count per request: CPU on the main thread ${kernel.mainCpuUs.toFixed(0)} µs, on other threads ${kernel.otherCpuUs.toFixed(0)} µs, ` +
              `${kernel.wakeUps.toFixed(2)} wake-ups (voluntary context switches), ${kernel.preemptions.toFixed(2)} preemptions, ${kernel.syscalls.toFixed(2)} read/write system calls`
            : ""),
        command: `${running.get(s)!.server.command} behind ${rateCommand(runFor(s, plan.tailS))}`,
      });
    }
    // The built-in variants only: the shipped flags' effect and the profiles (--tail-variants reports the windows).
    if (!variants) {
      // The shipped flags' effect, paired per repetition (the same rotation round): after ÷ before.
      const before = windows.get(subjects[1]!)!;
      const after = windows.get(subjects[2]!)!;
      const pairedMedian = (f: (x: Window) => number, g: (a: number, b: number) => number): number => median(after.map((a, i) => g(f(a), f(before[i]!))));
      const promoted = (x: Window): number => promotedBytes(x.probe) / (x.requests + x.errors);
      const marks = (x: Window): number => markCompacts(x.probe);
      const paused = (x: Window): number => x.probe.gc.reduce((a, g) => a + g.ms, 0);
      ctx.rows.push({
        section: "tail",
        label: "  effect of the shipped heap flags (as shipped against before, paired per repetition, median)",
        value: `p99 ${signed(pairedMedian((x) => x.p99, (a, b) => a - b))} ms, p99.9 ${signed(pairedMedian((x) => x.p999, (a, b) => a - b))} ms, CPU ${pairedMedian((x) => x.cpuUsPerReq ?? Number.NaN, (a, b) => a / b).toFixed(2)}×, promoted ${pairedMedian(promoted, (a, b) => a / b).toFixed(2)}×, mark-compacts ${pairedMedian(marks, (a, b) => a - b).toFixed(0)} per ${plan.tailS} s, GC pause time ${pairedMedian(paused, (a, b) => a / b).toFixed(2)}×`,
        command: "the two scopegate rows above",
      });
      // Profiles of the trivial server and scopegate as shipped (rotated windows); left out of a smoke run.
      if (plan.mode === "full") {
        await windowProfiles(ctx, [subjects[0]!, subjects[2]!], upstream, requestsFile, generatorPath);
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
  ctx.notes.push(
    `Tail rows, the kernel's count: per measured window, from /proc/<pid>/task/*/stat and status and /proc/<pid>/io (proc(5); read beside the process, nothing attached to it), the CPU time of the main thread (JavaScript and the GC's main-thread part) and of the other threads (V8's GC helpers and compiler, libuv's pool), the voluntary context switches (each a thread going to sleep in epoll or on a futex, so a wake-up), the involuntary ones, and the read- and write-like system calls (syscr + syscw), per request, medians over the windows.`,
    `Tail rows: each server a fresh process with \`--import=scripts/bench/tail-probe.mjs\` (perf_hooks.monitorEventLoopDelay at 2 ms resolution; v8.GCProfiler: every GC --trace-gc would print, with its pause and the heap before and after, from which bytes allocated and promoted per request), behind its own edge Envoy, warmed for ${plan.tailWarmS} s at the fixed rate (so that V8 has compiled the hot functions with TurboFan before the first window), ${plan.tailReps} rotated repetitions of ${plan.tailS} s at ${plan.fixedRate.toLocaleString("en-US")} req/s (vegeta); GC and event-loop figures are medians over the repetitions of what the probe saw in each measured window.`,
  );
}

function scopegateSubject(ctx: Context, name: string, heap: readonly string[], logDecisions?: "all" | "denials", renewStreamTableEvery?: number): Subject {
  return {
    name,
    start: async (flags, env) => {
      const sg = await startScopegate({
        world: ctx.world,
        dir: ctx.dir,
        name: tailProcessName(name),
        configuredTenants: ctx.hot,
        logLevel: "info",
        ...(logDecisions ? { logDecisions } : {}),
        ...(renewStreamTableEvery !== undefined ? { renewStreamTableEvery } : {}),
        nodeFlags: [...heap, ...flags],
        env: { ...SHIPPED_ENV, ...env },
      });
      return { pid: sg.child.pid, unixSocket: sg.udsTarget.slice("unix://".length), command: sg.command.replace(/--import=\S+/, "--import=scripts/bench/tail-probe.mjs"), stop: () => sg.stop() };
    },
  };
}

/**
 * Windows of each subject under the same load, profiled by scripts/bench/window-probe.mjs (the windows only: not
 * start-up, not warm-up). The subjects run side by side and their windows rotate (A B, B A, A B; one window per
 * server swings by 2× on this machine). "cpu": per module, the median µs per request over the windows, and where
 * the last subject spends more than the first. "survivors": what a scavenge did not collect (V8's sampling heap
 * profiler with objects collected by a scavenge left out), by allocating function and by the innermost frame of
 * scopegate's own code on the allocating stack: the bytes behind the mark-compacts.
 */
async function windowProfiles(ctx: Context, subjects: readonly Subject[], upstream: Envoy, requestsFile: string, generatorPath: string): Promise<void> {
  const medians: PerRequest[] = [];
  for (const kind of ["cpu", "survivors"] as const) {
    const rounds = kind === "cpu" ? ctx.plan.tailReps : 1;
    const running: { server: Running; edge: Envoy; out: string; windows: PerRequest[]; requests: number[] }[] = [];
    try {
      for (const [i, s] of subjects.entries()) {
        const out = join(ctx.dir, `tail-window-${kind}-${i}.json`);
        const probe = windowProbe(kind, out);
        const server = await s.start(probe.flags, probe.env);
        const edge = await startEdge({ kind: "ext_authz", unixSocket: server.unixSocket }, upstream).catch(async (err: unknown) => {
          await server.stop();
          throw err;
        });
        running.push({ server, edge, out, windows: [], requests: [] });
      }
      const run = (edge: Envoy, durationS: number): RateRun => ({ binary: generatorPath, url: edge.url, requestsFile, rate: ctx.plan.fixedRate, connections: 20, durationS });
      for (const r of running) await runRate(run(r.edge, ctx.plan.tailWarmS));
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < running.length; k++) {
          const r = running[(k + round) % running.length]!;
          await rm(r.out, { force: true });
          const requests = await profileWindow(r.server.pid, r.out, async () => {
            const x = await runRate(run(r.edge, ctx.plan.tailS));
            return x.requests + x.errors;
          });
          if (kind === "cpu") r.windows.push({ summary: await summariseProfile(r.out, 12), requests });
          else r.requests.push(requests);
        }
      }
      for (const [i, r] of running.entries()) {
        const s = subjects[i]!;
        if (kind === "cpu") {
          const m = medianPerRequest(r.windows);
          medians.push(m);
          ctx.rows.push({
            section: "tail",
            label: `  CPU profile, median of ${rounds} rotated windows: ${s.name}`,
            value: `${cpuPerRequest(m)}; busy per window ${r.windows.map((w) => (w.summary.busyUs / Math.max(1, w.requests)).toFixed(0)).join(", ")} µs/req`,
            command: `node --import=scripts/bench/window-probe.mjs … (SCOPEGATE_WINDOW_PROBE=cpu: inspector Profiler, 200 µs sampling) behind vegeta at ${ctx.plan.fixedRate} req/s for ${ctx.plan.tailS} s per window`,
          });
        } else {
          const summary = await summariseHeapProfile(r.out, 8);
          ctx.rows.push({
            section: "tail",
            label: `  survivors of a scavenge: ${s.name}`,
            value: `${Math.round(summary.bytes / Math.max(1, r.requests[0] ?? 1)).toLocaleString("en-US")} B/req sampled; by allocating function: ${summary.functions.map((f) => `\`${f.name}\` ${f.percent.toFixed(0)} %`).join(", ")}; by innermost scopegate frame: ${summary.scopegateFrames.map((f) => `\`${f.name}\` ${f.percent.toFixed(0)} %`).join(", ")}`,
            command: `node --import=scripts/bench/window-probe.mjs … (SCOPEGATE_WINDOW_PROBE=survivors: HeapProfiler sampling every 512 B, objects collected by a scavenge left out) behind vegeta at ${ctx.plan.fixedRate} req/s for ${ctx.plan.tailS} s`,
          });
        }
      }
    } finally {
      for (const r of running) {
        await r.edge.stop();
        await r.server.stop();
      }
    }
  }
  ctx.rows.push({
    section: "tail",
    label: `  CPU difference per request, ${subjects.at(-1)!.name} − ${subjects[0]!.name} (medians of the windows above)`,
    value: cpuDifference(medians[0]!, medians.at(-1)!),
    command: "the CPU profile rows above",
  });
}

function mean(v: readonly number[]): number {
  return v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length;
}

function signed(v: number, digits = 2): string {
  return `${v < 0 ? "−" : "+"}${Math.abs(v).toFixed(digits)}`;
}

/** Each kernel count's median over the windows; undefined unless every window has the counts. */
function procMedians(windows: readonly Window[]): ProcPerRequest | undefined {
  const all = windows.map((w) => w.proc);
  if (all.length === 0 || all.some((p) => p === undefined)) return undefined;
  const counts = all as ProcPerRequest[];
  const m = (f: (p: ProcPerRequest) => number): number => median(counts.map(f));
  return { mainCpuUs: m((p) => p.mainCpuUs), otherCpuUs: m((p) => p.otherCpuUs), wakeUps: m((p) => p.wakeUps), preemptions: m((p) => p.preemptions), syscalls: m((p) => p.syscalls) };
}
