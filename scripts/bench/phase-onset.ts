// The promoting state from a cold start (issue 15): fresh scopegate processes, each alone behind its own edge
// Envoy, put under 1,000 req/s at once (the first check of every tenant waits for Vault and the token endpoint),
// alternately as shipped and with V8's allocation-site pretenuring back on (src/runtime/v8-flags.ts turns it off;
// a flag on node's command line wins). Per process: bytes promoted per request over the whole run and
// mark-compacts; then how many processes of each kind promoted at least PROMOTING_BYTES per request.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import { sleepMs, type Context } from "./context.js";
import { startEdge, startUpstream } from "./envoys.js";
import { BOUNDED_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { startScopegate } from "./scopegate-process.js";
import { markCompacts, PROBE, PROBE_ENV, promotedBytes, readProbe } from "./tail-probe-report.js";
import { rateCommand, rateGenerator, runRate, writeRateRequests, type RateRun } from "./vegeta.js";

/** At or above this many bytes promoted per request a process is counted as promoting (the others: < 500). */
export const PROMOTING_BYTES = 2000;

const KINDS = [
  { name: "as shipped", flags: [] as string[] },
  { name: "allocation-site pretenuring on (before 2026-12-03)", flags: ["--allocation-site-pretenuring"] },
] as const;

export async function onsetPhase(ctx: Context): Promise<void> {
  const { plan } = ctx;
  const generator = rateGenerator();
  if ("missing" in generator) throw new Error(`the onset phase needs the constant-rate generator: ${generator.missing}`);
  const upstream = await startUpstream();
  const requestsFile = join(ctx.dir, "onset-requests.json");
  await writeRateRequests(requestsFile, requestSpecs(ctx.hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })));
  const counts = KINDS.map(() => ({ promoting: 0, processes: 0 }));
  try {
    for (let pair = 0; pair < plan.onsetPairs; pair++) {
      // A B, then B A, …: neither kind always runs first.
      const order = pair % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const kind = KINDS[k]!;
        const probeFile = join(ctx.dir, `onset-probe-${pair}-${k}.json`);
        const sg = await startScopegate({
          world: ctx.world,
          dir: ctx.dir,
          name: `onset-${pair}-${k}`,
          configuredTenants: ctx.hot,
          logLevel: "info",
          nodeFlags: [...BOUNDED_HEAP, ...kind.flags, `--import=${PROBE}`],
          env: { ...SHIPPED_ENV, [PROBE_ENV]: probeFile },
        });
        try {
          const edge = await startEdge({ kind: "ext_authz", unixSocket: sg.udsTarget.slice("unix://".length) }, upstream);
          try {
            const run: RateRun = { binary: generator.path, url: edge.url, requestsFile, rate: plan.fixedRate, connections: 20, durationS: plan.onsetS };
            process.kill(sg.child.pid, "SIGUSR2"); // the probe's window: the whole run, cold start included
            await sleepMs(50);
            const r = await runRate(run);
            await rm(probeFile, { force: true });
            process.kill(sg.child.pid, "SIGUSR2");
            const probe = await readProbe(probeFile);
            const requests = r.requests + r.errors;
            const promoted = promotedBytes(probe) / requests;
            const marks = markCompacts(probe);
            counts[k]!.processes++;
            if (promoted >= PROMOTING_BYTES) counts[k]!.promoting++;
            ctx.rows.push({
              section: "tail",
              label: `onset: ${kind.name}, process ${pair + 1}`,
              value: `promoted ${promoted.toFixed(0)} B/req, ${marks} mark-compacts in ${plan.onsetS} s, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors`,
              command: `${sg.command.replace(/--import=\S+/, "--import=scripts/bench/tail-probe.mjs")} behind ${rateCommand(run)}`,
            });
          } finally {
            await edge.stop();
          }
        } finally {
          await sg.stop();
        }
      }
    }
  } finally {
    await upstream.stop();
  }
  ctx.rows.push({
    section: "tail",
    label: `onset: processes promoting ≥ ${PROMOTING_BYTES.toLocaleString("en-US")} B/req`,
    value: KINDS.map((kind, k) => `${kind.name} ${counts[k]!.promoting} of ${counts[k]!.processes}`).join("; "),
    command: "the onset rows above",
  });
  ctx.notes.push(
    `Onset rows: ${plan.onsetPairs * 2} fresh scopegate processes (heap flags as shipped, \`--import=scripts/bench/tail-probe.mjs\`), each alone behind its own edge Envoy and put under ${plan.fixedRate.toLocaleString("en-US")} req/s for ${plan.onsetS} s straight from start (tokens not yet fetched), alternately as shipped and with \`--allocation-site-pretenuring\` on node's command line (which overrides src/runtime/v8-flags.ts); promoted bytes are old-space growth over each scavenge, over the whole run.`,
  );
}
