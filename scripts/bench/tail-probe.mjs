// Loaded into a server under test with `node --import <this file>` (the tail phase, scripts/bench/phase-tail.ts):
// an event-loop delay histogram (perf_hooks.monitorEventLoopDelay) and every GC with its pause and the heap
// before and after it (v8.GCProfiler: what --trace-gc prints, as data), counted between two SIGUSR2 signals:
// the first opens the window, the second writes what it saw as JSON to $SCOPEGATE_TAIL_PROBE_OUT and opens the
// next one. Nothing here touches the server's own code; the same file is loaded into the trivial grpc-js server.
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import v8 from "node:v8";

const out = process.env.SCOPEGATE_TAIL_PROBE_OUT;
const resolutionMs = Number(process.env.SCOPEGATE_TAIL_PROBE_RESOLUTION_MS ?? "2");
if (out) {
  const eld = monitorEventLoopDelay({ resolution: resolutionMs });
  eld.enable();
  let profiler = new v8.GCProfiler();
  profiler.start();
  let usedAtOpen = v8.getHeapStatistics().used_heap_size;
  const space = (stats, name) => stats.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;
  process.on("SIGUSR2", () => {
    const { statistics } = profiler.stop();
    const usedNow = v8.getHeapStatistics().used_heap_size;
    // Bytes allocated in the window: heap growth between one GC's end and the next one's start, summed.
    let allocated = 0;
    let prev = usedAtOpen;
    const gc = statistics.map((s) => {
      allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prev);
      prev = s.afterGC.heapStatistics.usedHeapSize;
      return {
        kind: s.gcType,
        ms: s.cost / 1000,
        promoted: s.gcType === "Scavenge" ? Math.max(0, space(s.afterGC, "old_space") - space(s.beforeGC, "old_space")) : 0,
        newSpace: s.beforeGC.heapSpaceStatistics.find((x) => x.spaceName === "new_space")?.spaceSize ?? 0,
      };
    });
    allocated += Math.max(0, usedNow - prev);
    const ms = (p) => eld.percentile(p) / 1e6;
    writeFileSync(
      out,
      JSON.stringify({
        eld: { resolutionMs, count: eld.count, p50: ms(50), p99: ms(99), p999: ms(99.9), max: eld.max / 1e6 },
        allocatedBytes: allocated,
        gc,
      }),
    );
    eld.reset();
    profiler = new v8.GCProfiler();
    profiler.start();
    usedAtOpen = usedNow;
  });
}
