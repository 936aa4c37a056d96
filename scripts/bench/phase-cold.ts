// d. Cold paths against the running scopegate: the first request of tenants it has never seen (discovered from
// their Vault record: one KV read + one token request to the stand-in), one after another; then a burst of
// concurrent first requests over fresh tenants, counting the token requests that reached the stand-in.
import type { Context } from "./context.js";
import { checkRequestFor, encodeCheckRequest, requestSpecs } from "./check-requests.js";
import { CheckClient } from "./grpc-client.js";
import { percentile } from "./load-result.js";
import { tenantIds } from "./world.js";

export interface BurstResult {
  readonly tokenRequests: number;
  readonly maxPerTenant: number;
  readonly allowed: number;
  readonly ms: number;
}

export async function coldPhase(ctx: Context, target: string): Promise<BurstResult> {
  const { plan, world } = ctx;
  const first = tenantIds("cold", plan.coldFirst);
  const burst = tenantIds("burst", plan.burstTenants);
  await world.addTenants([...first, ...burst], "vault");

  const client = new CheckClient(target);
  try {
    const latencies: number[] = [];
    const before = world.standin.tokenRequests;
    for (const [i, spec] of requestSpecs(first, first.length).entries()) {
      const a = await client.check(encodeCheckRequest(checkRequestFor(spec, i)));
      if (!a.allowed) throw new Error(`cold request for ${spec.tenant} denied: ${a.reason}`);
      latencies.push(a.ms);
    }
    const minted = world.standin.tokenRequests - before;
    latencies.sort((a, b) => a - b);
    ctx.rows.push({
      section: "cold",
      label: `first request of a tenant (${first.length} tenants, one after another)`,
      value: `p50 ${percentile(latencies, 50).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; ${minted} token requests`,
      command: "grpc-js Check over TCP; scopegate discovers each tenant from its Vault KV v2 record and mints its token at the stand-in",
    });
  } finally {
    client.close();
  }

  const result = await runBurst(ctx, target, burst);
  ctx.rows.push({
    section: "cold",
    label: `burst: ${plan.burstRequests.toLocaleString("en-US")} concurrent first requests over ${burst.length} tenants`,
    value: `${result.tokenRequests} token requests (max ${result.maxPerTenant} per tenant), ${result.allowed} allowed, all answered in ${result.ms.toFixed(0)} ms`,
    command: `${plan.burstRequests} Checks started at once from 4 grpc-js channels over TCP; tenants discovered from Vault`,
  });
  ctx.targets.push({
    name: "one token request per tenant under a burst",
    goal: `${burst.length} token requests for ${plan.burstRequests} first requests over ${burst.length} tenants`,
    measured: `${result.tokenRequests}`,
    met: result.tokenRequests === burst.length,
    verdict: result.tokenRequests === burst.length ? "met" : `missed: ${result.tokenRequests - burst.length} extra`,
  });
  return result;
}

async function runBurst(ctx: Context, target: string, tenants: readonly string[]): Promise<BurstResult> {
  const { world, plan } = ctx;
  const requests = requestSpecs(tenants, plan.burstRequests).map((s, i) => encodeCheckRequest(checkRequestFor(s, i)));
  const clients = Array.from({ length: 4 }, () => new CheckClient(target));
  try {
    // Connect first (with a cached tenant's request), so the burst measures scopegate, not four handshakes.
    await Promise.all(clients.map((c) => c.check(ctx.hotRequests[0]!)));
    const before = world.standin.tokenRequests;
    const started = performance.now();
    const answers = await Promise.all(requests.map((r, i) => clients[i % clients.length]!.check(r, 20_000)));
    const ms = performance.now() - started;
    const tokenRequests = world.standin.tokenRequests - before;
    const maxPerTenant = Math.max(...tenants.map((t) => world.standin.tokenRequestsFor(`${t}-client`)));
    return { tokenRequests, maxPerTenant, allowed: answers.filter((a) => a.allowed).length, ms };
  } finally {
    for (const c of clients) c.close();
  }
}
