// Loaded into a server under test with `node --import <this file>` (the tail phase, scripts/bench/phase-tail.ts):
// an event-loop delay histogram (perf_hooks.monitorEventLoopDelay) and every GC pause (PerformanceObserver
// "gc" entries, the pauses --trace-gc prints), counted between two SIGUSR2 signals: the first opens the window,
// the second writes what it saw as JSON to $SCOPEGATE_TAIL_PROBE_OUT and opens the next window.
// Nothing here touches the server's own code; the same file is loaded into the trivial grpc-js server.
import { writeFileSync } from "node:fs";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";

const out = process.env.SCOPEGATE_TAIL_PROBE_OUT;
const resolutionMs = Number(process.env.SCOPEGATE_TAIL_PROBE_RESOLUTION_MS ?? "2");
if (out) {
  const eld = monitorEventLoopDelay({ resolution: resolutionMs });
  eld.enable();
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
    [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
  };
  let gcs = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ kind: kinds[e.detail?.kind] ?? String(e.detail?.kind), ms: e.duration });
  });
  obs.observe({ entryTypes: ["gc"] });
  let opened = performance.now();
  process.on("SIGUSR2", () => {
    const now = performance.now();
    const ns = (p) => eld.percentile(p) / 1e6;
    const report = {
      windowMs: now - opened,
      eld: { resolutionMs, count: eld.count, p50: ns(50), p99: ns(99), p999: ns(99.9), max: eld.max / 1e6, mean: eld.mean / 1e6 },
      gc: gcs,
    };
    writeFileSync(out, JSON.stringify(report));
    eld.reset();
    gcs = [];
    opened = now;
  });
}
