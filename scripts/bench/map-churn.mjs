// Reproducer, in plain JavaScript and outside scopegate, of the promotion that src/server/stream-table-renewal.ts
// prevents: a long-lived Map with one set and one delete per "request" (node:http2 keeps a connection's open
// streams this way) whose backing table has reached V8's old generation.
//
//   node scripts/bench/map-churn.mjs            three fresh processes, one per case, 3 s each; prints one line per case
//
// Cases: "young"     a Map whose table has never been promoted;
//        "old"       the same after one full GC while the Map is live (what a mark-compact during traffic does);
//        "renewed"   as "old", but the Map replaced by a new one with the same entries every 64 inserts.
// Each request allocates ~1 KB (an entry that lives until the next request, plus short-lived garbage). What is
// measured: bytes promoted into the old generation per request (old space growth over each scavenge, from
// v8.GCProfiler) and full GCs per second. "young" can turn into "old" by itself: any full GC V8 decides to run
// during those 3 s promotes the table.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { promotedAndFull } from "./gc-summary.mjs";

const CASES = ["young", "old", "renewed"];
const which = process.argv[2];

if (which === undefined) {
  for (const c of CASES) process.stdout.write(execFileSync(process.execPath, [fileURLToPath(import.meta.url), c], { encoding: "utf8" }));
} else if (!CASES.includes(which)) {
  process.stderr.write(`usage: map-churn.mjs [${CASES.join("|")}]\n`);
  process.exit(2);
} else {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  let table = new Map();
  let id = 0;
  let sink;
  const request = () => {
    table.set(id, { id, body: new Array(64).fill(id), meta: { path: [1, 2, 3], name: `r${id}` } });
    table.delete(id - 1);
    for (let j = 0; j < 20; j++) sink = [j, { j }];
    if (which === "renewed" && id % 64 === 0) table = new Map(table);
    id++;
  };
  const run = async (ms) => {
    const profiler = new v8.GCProfiler();
    profiler.start();
    const end = Date.now() + ms;
    let requests = 0;
    while (Date.now() < end) {
      for (let i = 0; i < 20; i++) request();
      requests += 20;
      await new Promise((r) => setImmediate(r));
    }
    return { requests, ...promotedAndFull(profiler.stop().statistics) };
  };
  await run(500); // warm-up: the code optimised, start-up garbage gone
  table = new Map([[id - 1, {}]]); // a table that has never been through a GC
  if (which !== "young") gc(); // one full GC with the Map live: its table is promoted
  const r = await run(3000);
  void sink;
  const line = `${which.padEnd(8)} ${(r.promoted / r.requests).toFixed(1).padStart(7)} B promoted per request, ${(r.full / 3).toFixed(1).padStart(5)} full GCs/s (${r.requests.toLocaleString("en-US")} requests)`;
  process.stdout.write(`${line}\n`);
}
