// Loaded into a server under test with `node --import <this file>` (the tail phase, scripts/bench/phase-tail.ts):
// a V8 profile of one measured window only, through the in-process inspector — not start-up, not warm-up.
// The first SIGUSR2 starts it, the second writes it as JSON to $SCOPEGATE_WINDOW_PROBE_OUT.
// $SCOPEGATE_WINDOW_PROBE says which:
// - "cpu": the CPU profiler (what --cpu-prof writes, for the window alone);
// - "survivors": the sampling heap profiler keeping only objects a scavenge did *not* collect
//   (includeObjectsCollectedByMinorGC: false, includeObjectsCollectedByMajorGC: true): short-lived garbage drops
//   out; what remains was promoted to the old generation (and died there, or is alive) — what the mark-compacts
//   are made of.
// Nothing here touches the server's own code; the same file is loaded into the trivial grpc-js server.
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";

const out = process.env.SCOPEGATE_WINDOW_PROBE_OUT;
const kind = process.env.SCOPEGATE_WINDOW_PROBE ?? "cpu";
if (out) {
  const session = new Session();
  session.connect();
  let open = false;
  process.on("SIGUSR2", () => {
    void (async () => {
      if (!open) {
        open = true;
        if (kind === "cpu") {
          await session.post("Profiler.enable");
          await session.post("Profiler.setSamplingInterval", { interval: 200 });
          await session.post("Profiler.start");
        } else {
          await session.post("HeapProfiler.startSampling", {
            samplingInterval: 512,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: false,
          });
        }
        return;
      }
      open = false;
      const { profile } = await session.post(kind === "cpu" ? "Profiler.stop" : "HeapProfiler.stopSampling");
      writeFileSync(out, JSON.stringify(kind === "cpu" ? profile : { profile }));
    })();
  });
}
