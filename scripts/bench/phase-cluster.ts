// Multi-worker mode (src/cluster): the same cached load against one scopegate process and against a cluster of
// N workers, interleaved; the ratio of their throughput is the scaling factor on this machine. The cluster's
// warm-up over several connections also shows that its workers share one token per tenant.
import type { Context } from "./context.js";
import { ghzCommand } from "./ghz.js";
import { ghzRun, interleave, measure, type LoadTarget } from "./phase-direct.js";
import { medianLoad } from "./report.js";
import { startScopegate } from "./scopegate-process.js";

const CONCURRENCY = 64;

export async function clusterPhase(ctx: Context, single: LoadTarget): Promise<void> {
  const { plan, world } = ctx;
  const before = world.standin.tokenRequests;
  const sg = await startScopegate({ world, dir: ctx.dir, name: "cluster", configuredTenants: ctx.hot, logLevel: "info", workers: plan.clusterWorkers });
  try {
    const cluster: LoadTarget = { name: `scopegate ${plan.clusterWorkers} workers`, tcpTarget: sg.tcpTarget, udsTarget: sg.udsTarget, pid: sg.child.pid };
    // Four connections, handed out round-robin: every worker meets every hot tenant for the first time.
    await measure(ghzRun(ctx, sg.tcpTarget, 16, plan.warmS), sg.child.pid);
    const minted = world.standin.tokenRequests - before;
    ctx.rows.push({
      section: "cluster",
      label: `token requests while ${plan.clusterWorkers} workers warmed ${ctx.hot.length} tenants`,
      value: `${minted} (one per tenant: ${minted === ctx.hot.length ? "yes" : "NO"})`,
      command: sg.command,
    });
    await measure(ghzRun(ctx, single.tcpTarget, 16, plan.warmS), single.pid);
    const runs = await interleave([single, cluster], plan.rounds, (s) => measure(ghzRun(ctx, s.tcpTarget, CONCURRENCY, plan.loadS), s.pid));
    const one = medianLoad(runs.get(single)!);
    const many = medianLoad(runs.get(cluster)!);
    ctx.rows.push(
      { section: "cluster", label: `1 process tcp c=${CONCURRENCY}`, load: one, versus: "baseline", command: ghzCommand(ghzRun(ctx, single.tcpTarget, CONCURRENCY, plan.loadS)) },
      {
        section: "cluster",
        label: `${plan.clusterWorkers} workers tcp c=${CONCURRENCY}`,
        load: many,
        versus: `scaling factor ${(many.rps / one.rps).toFixed(2)}× req/s, ${(many.p99 / one.p99).toFixed(2)}× p99`,
        command: ghzCommand(ghzRun(ctx, sg.tcpTarget, CONCURRENCY, plan.loadS)),
      },
    );
  } finally {
    await sg.stop();
  }
}
