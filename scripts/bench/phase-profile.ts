// Where a cached Check's CPU goes: a separate scopegate process under `node --cpu-prof`, warmed, then loaded by
// ghz over TCP; the profile is written when it exits and summarised (self time by module and by function).
// Kept out of the measured rows: profiling slows the process down.
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Context } from "./context.js";
import { ghzCommand, runGhz } from "./ghz.js";
import { expectAllAllowed } from "./grpc-client.js";
import { ghzRun } from "./phase-direct.js";
import { summariseProfile, type ProfileSummary } from "./profile.js";
import { BOUNDED_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { startScopegate } from "./scopegate-process.js";
import { startTrivial } from "./trivial-process.js";
import { cpuDifference, cpuPerRequest, profileWindow, windowProbe, type PerRequest } from "./window-profile.js";

export async function profilePhase(ctx: Context): Promise<{ summary: ProfileSummary; command: string; file: string }> {
  const profDir = join(ctx.dir, "cpu-prof");
  await mkdir(profDir, { recursive: true });
  const sg = await startScopegate({ world: ctx.world, dir: ctx.dir, name: "profiled", configuredTenants: ctx.hot, logLevel: "info", cpuProfDir: profDir });
  const run = ghzRun(ctx, sg.tcpTarget, 16, ctx.plan.profileS);
  try {
    await expectAllAllowed(sg.tcpTarget, ctx.hotRequests.slice(0, ctx.hot.length), "profiled scopegate");
    await runGhz(ghzRun(ctx, sg.tcpTarget, 16, ctx.plan.warmS));
    await runGhz(run);
  } finally {
    await sg.stop();
  }
  const file = (await readdir(profDir)).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile written in ${profDir}:\n${sg.child.stderr()}`);
  return {
    summary: await summariseProfile(join(profDir, file), 25),
    command: `node --cpu-prof dist/main.js serve (logging.level info) under ${ghzCommand(run)}`,
    file: join(profDir, file),
  };
}

/**
 * Issue 15's one-in-flight target: the trivial grpc-js server and scopegate as shipped, each a fresh process,
 * profiled over one window of ghz at one request in flight (window-probe.mjs), side by side in µs per request,
 * and where scopegate spends more.
 */
export async function oneInFlightProfiles(ctx: Context, response: Buffer): Promise<void> {
  const profiles: PerRequest[] = [];
  const names = ["trivial grpc-js (V8 defaults)", `scopegate as shipped: ${BOUNDED_HEAP.join(" ")}`];
  for (const name of names) {
    const out = join(ctx.dir, `one-in-flight-${profiles.length}.json`);
    const probe = windowProbe("cpu", out);
    const server =
      profiles.length === 0
        ? await startTrivial(ctx.dir, response, { name: "profiled-trivial", nodeFlags: probe.flags, env: probe.env }).then((t) => ({ pid: t.child.pid, target: t.tcpTarget, stop: () => t.stop() }))
        : await startScopegate({
            world: ctx.world,
            dir: ctx.dir,
            name: "profiled-one",
            configuredTenants: ctx.hot,
            logLevel: "info",
            nodeFlags: [...BOUNDED_HEAP, ...probe.flags],
            env: { ...SHIPPED_ENV, ...probe.env },
          }).then((s) => ({ pid: s.child.pid, target: s.tcpTarget, stop: () => s.stop() }));
    try {
      await expectAllAllowed(server.target, ctx.hotRequests.slice(0, ctx.hot.length), name);
      await runGhz(ghzRun(ctx, server.target, 1, ctx.plan.warmS));
      const requests = await profileWindow(server.pid, out, async () => {
        const r = await runGhz(ghzRun(ctx, server.target, 1, ctx.plan.profileS));
        return r.requests + r.errors;
      });
      profiles.push({ summary: await summariseProfile(out, 12), requests });
    } finally {
      await server.stop();
    }
    ctx.rows.push({
      section: "direct",
      label: `  CPU profile of one window at one in flight (tcp c=1): ${name}`,
      value: cpuPerRequest(profiles.at(-1)!),
      command: `node --import=scripts/bench/window-probe.mjs … (SCOPEGATE_WINDOW_PROBE=cpu) under ${ghzCommand(ghzRun(ctx, "127.0.0.1:0", 1, ctx.plan.profileS))}`,
    });
  }
  ctx.rows.push({
    section: "direct",
    label: "  CPU difference per request at one in flight, scopegate − trivial (one window each)",
    value: cpuDifference(profiles[0]!, profiles[1]!),
    command: "the two profile rows above",
  });
}
