// Fleet token store (issue 14): a real redis-server on loopback, scopegate with config fleet.tokens.
// - cached Check with the store on vs off: the same hot load on two processes, interleaved (like the direct phase);
//   a cached tenant never reaches Redis, so the difference is noise unless something is wrong;
// - token requests per rollout of N replicas: N fresh processes meet every hot tenant (first generation), then N
//   new processes replace them (a rollout), with the store and without it (today: N × tenants each time).
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startRedis } from "../../test/support/redis.js";
import type { Context } from "./context.js";
import { ghzCommand } from "./ghz.js";
import { expectAllAllowed } from "./grpc-client.js";
import { ghzRun, interleave, measure, ratioText, type LoadTarget } from "./phase-direct.js";
import { medianLoad } from "./report.js";
import { startScopegate, type Scopegate } from "./scopegate-process.js";

const REPLICAS = 3;
const CONCURRENCY = 16;

export async function fleetPhase(ctx: Context, single: LoadTarget, withGhz: boolean): Promise<void> {
  const redis = await startRedis();
  const keysFile = join(ctx.dir, "fleet-keys.json");
  await writeFile(keysFile, JSON.stringify({ current: "bench", keys: { bench: randomBytes(32).toString("base64") } }), { mode: 0o600 });
  // commandTimeoutMs 3000: on a loaded 2-core machine (the smoke test runs beside the whole suite) a command can
  // take longer than the 500 ms default, and a replica would then mint on its own (counted as a fallback), which
  // is the design working but not what these rows count.
  const fleetBlock = (keyPrefix: string) => ({ fleet: { redis: { url: redis.url, keyPrefix, commandTimeoutMs: 3000 }, tokens: { keysFile } } });
  try {
    if (withGhz) await cachedOnOff(ctx, single, fleetBlock("bench-cached:"));
    await rollouts(ctx, fleetBlock);
  } finally {
    await redis.stop();
  }
}

async function cachedOnOff(ctx: Context, single: LoadTarget, extraConfig: Record<string, unknown>): Promise<void> {
  const { plan } = ctx;
  const sg = await startScopegate({ world: ctx.world, dir: ctx.dir, name: "fleet-on", configuredTenants: ctx.hot, logLevel: "info", extraConfig });
  try {
    await expectAllAllowed(sg.tcpTarget, ctx.hotRequests, "scopegate (fleet store on)");
    const on: LoadTarget = { name: "scopegate fleet store on", tcpTarget: sg.tcpTarget, udsTarget: sg.udsTarget, pid: sg.child.pid };
    await measure(ghzRun(ctx, on.tcpTarget, CONCURRENCY, plan.warmS), on.pid);
    const before = ctx.world.standin.tokenRequests;
    const runs = await interleave([single, on], plan.rounds, (s) => measure(ghzRun(ctx, s.tcpTarget, CONCURRENCY, plan.loadS), s.pid));
    ctx.hotPathTokenRequests += ctx.world.standin.tokenRequests - before;
    const off = medianLoad(runs.get(single)!);
    const onLoad = medianLoad(runs.get(on)!);
    ctx.rows.push(
      { section: "fleet", label: `cached Check, fleet store off, tcp c=${CONCURRENCY}`, load: off, versus: "baseline", command: ghzCommand(ghzRun(ctx, single.tcpTarget, CONCURRENCY, plan.loadS)) },
      {
        section: "fleet",
        label: `cached Check, fleet store on, tcp c=${CONCURRENCY}`,
        load: onLoad,
        versus: `${ratioText(onLoad.rps, off.rps, "req/s")}, ${ratioText(onLoad.p99, off.p99, "p99")}`,
        command: `${sg.command}; ${ghzCommand(ghzRun(ctx, sg.tcpTarget, CONCURRENCY, plan.loadS))}`,
      },
    );
  } finally {
    await sg.stop();
  }
}

/** Token requests while `n` fresh replicas each meet every hot tenant (concurrently), then stop. */
async function generation(ctx: Context, name: string, extraConfig: Record<string, unknown> | undefined): Promise<{ minted: number; command: string }> {
  const procs: Scopegate[] = [];
  try {
    for (let i = 0; i < REPLICAS; i++) {
      procs.push(await startScopegate({ world: ctx.world, dir: ctx.dir, name: `${name}-${i}`, configuredTenants: ctx.hot, logLevel: "warn", ...(extraConfig ? { extraConfig } : {}) }));
    }
    const before = ctx.world.standin.tokenRequests;
    await Promise.all(procs.map((p) => expectAllAllowed(p.tcpTarget, ctx.hotRequests, p.name)));
    return { minted: ctx.world.standin.tokenRequests - before, command: procs[0]!.command };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

async function rollouts(ctx: Context, fleetBlock: (keyPrefix: string) => Record<string, unknown>): Promise<void> {
  const tenants = ctx.hot.length;
  const shared = fleetBlock(`bench-rollout-${randomBytes(3).toString("hex")}:`); // a cold Redis for this run
  const perTenant = (n: number): string => `${n} (${(n / tenants).toFixed(2)} per tenant; without the store: ${REPLICAS * tenants})`;
  for (const [label, extra] of [
    ["fleet store off", undefined],
    ["fleet store on", shared],
  ] as const) {
    const first = await generation(ctx, `rollout-${extra ? "on" : "off"}-a`, extra);
    const second = await generation(ctx, `rollout-${extra ? "on" : "off"}-b`, extra);
    ctx.rows.push(
      { section: "fleet", label: `token requests, ${REPLICAS} new replicas × ${tenants} tenants, ${label}`, value: perTenant(first.minted), command: first.command },
      { section: "fleet", label: `token requests, rollout to ${REPLICAS} more replicas, ${label}`, value: perTenant(second.minted), command: second.command },
    );
  }
}
