// e. Memory of a fresh scopegate process (VmRSS from /proc): right after start, with N tenants' tokens cached
// (each discovered from Vault and minted once; 10,000 in a full run), and sampled every second over a steady
// fixed-rate load on the same process.
import { join } from "node:path";
import { checkRequestFor, encodeCheckRequest, requestSpecs } from "./check-requests.js";
import { sleepMs, writeRequests, type Context } from "./context.js";
import { ghzCommand, runGhz } from "./ghz.js";
import { CheckClient } from "./grpc-client.js";
import { ghzRun } from "./phase-direct.js";
import { startScopegate } from "./scopegate-process.js";
import { tenantIds } from "./world.js";

const MB = 1024 * 1024;
const RSS_TARGET_MB = 150;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;

export async function memoryPhase(ctx: Context, withGhz: boolean): Promise<void> {
  const { plan, world } = ctx;
  const ids = tenantIds("mem", plan.memTenants);
  await world.addTenants(ids, "vault");
  const sg = await startScopegate({ world, dir: ctx.dir, name: "memory", configuredTenants: [], logLevel: "info", maxTenants: 10_000 });
  try {
    await sleepMs(1_000);
    const atStart = sg.rss();
    const before = world.standin.tokenRequests;
    const started = performance.now();
    await warmAll(sg.tcpTarget, ids);
    const warmS = (performance.now() - started) / 1000;
    const minted = world.standin.tokenRequests - before;
    await sleepMs(2_000);
    const cached = sg.rss();
    ctx.rows.push(
      { section: "memory", label: "RSS after start, nothing cached", value: mb(atStart), command: sg.command },
      {
        section: "memory",
        label: `RSS with ${ids.length.toLocaleString("en-US")} tenants' tokens cached`,
        value: `${mb(cached)} (+${mb(cached - atStart)}; ${minted.toLocaleString("en-US")} tokens minted in ${warmS.toFixed(1)} s)`,
        command: "one Check per tenant, 64 in flight over 4 grpc-js channels; tenants discovered from Vault; tokens.maxTenants 10000",
      },
    );
    const full = ids.length === 10_000;
    ctx.targets.push({
      name: "RSS with 10,000 cached tenants",
      goal: `≤ ${RSS_TARGET_MB} MB`,
      measured: full ? mb(cached) : `${mb(cached)} with ${ids.length} tenants (smoke run: not the target's size)`,
      met: full ? cached <= RSS_TARGET_MB * MB : undefined,
      verdict: !full ? "not measured at size" : cached <= RSS_TARGET_MB * MB ? "met" : `missed by ${mb(cached - RSS_TARGET_MB * MB)}`,
    });

    if (!withGhz) return;
    const steadyTenants = ids.slice(0, Math.min(1_000, ids.length));
    const { file } = await writeRequests(ctx.dir, "steady", steadyTenants, 2_000);
    const run = ghzRun(ctx, sg.tcpTarget, 16, plan.steadyS, { dataFile: file, rps: plan.steadyRate, outFile: join(ctx.dir, "steady.json") });
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(sg.rss()), 1_000);
    const tokensBefore = world.standin.tokenRequests;
    let result;
    try {
      result = await runGhz(run);
    } finally {
      clearInterval(sampler);
    }
    const tokens = world.standin.tokenRequests - tokensBefore;
    ctx.hotPathTokenRequests += tokens;
    const first = samples[0] ?? cached;
    const last = samples.at(-1) ?? cached;
    ctx.rows.push({
      section: "memory",
      label: `RSS over a ${plan.steadyS} s steady run (${Math.round(result.rps)} req/s over ${steadyTenants.length} cached tenants)`,
      value: `first ${mb(first)}, min ${mb(Math.min(...samples))}, max ${mb(Math.max(...samples))}, last ${mb(last)} (${samples.length} samples); ${tokens} token requests`,
      command: ghzCommand(run),
    });
  } finally {
    await sg.stop();
  }
}

/** One first request per tenant, 64 in flight; every answer must be an allow. */
async function warmAll(target: string, ids: readonly string[]): Promise<void> {
  const clients = Array.from({ length: 4 }, () => new CheckClient(target));
  const specs = requestSpecs(ids, ids.length);
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < specs.length) {
      const i = next++;
      const a = await clients[w % clients.length]!.check(encodeCheckRequest(checkRequestFor(specs[i]!, i)), 30_000);
      if (!a.allowed) throw new Error(`warming ${specs[i]!.tenant}: denied (${a.reason})`);
    }
  };
  try {
    await Promise.all(Array.from({ length: 64 }, (_, w) => worker(w)));
  } finally {
    for (const c of clients) c.close();
  }
}
