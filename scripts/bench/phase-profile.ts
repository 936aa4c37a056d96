// Where a cached Check's CPU goes: a separate scopegate process under `node --cpu-prof`, warmed, then loaded by
// ghz over TCP; the profile is written when it exits and summarised (self time by module and by function).
// Kept out of the measured rows: profiling slows the process down.
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Context } from "./context.js";
import { ghzCommand, runGhz } from "./ghz.js";
import { expectAllAllowed } from "./grpc-client.js";
import { ghzRun } from "./phase-direct.js";
import { summariseProfile, type ProfileSummary } from "./profile.js";
import { BOUNDED_HEAP, SHIPPED_ENV } from "./phase-memory.js";
import { startScopegate } from "./scopegate-process.js";
import { startTrivial } from "./trivial-process.js";
import { cpuDifference, cpuPerRequest, medianPerRequest, profileWindow, windowProbe, type PerRequest } from "./window-profile.js";

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
 * Issue 15's one-in-flight target: the trivial grpc-js server and scopegate as shipped, both running, profiled
 * over windows of ghz at one request in flight (window-probe.mjs) in rotated order (A B, B A, A B): one window per
 * server swung by 2× between runs on this shared machine. Per module, the median µs per request over the windows,
 * side by side, and where scopegate spends more.
 */
export async function oneInFlightProfiles(ctx: Context, response: Buffer): Promise<void> {
  const rounds = 3;
  const names = ["trivial grpc-js (V8 defaults)", `scopegate as shipped: ${BOUNDED_HEAP.join(" ")}`] as const;
  const outs = names.map((_, i) => join(ctx.dir, `one-in-flight-${i}.json`));
  const trivialProbe = windowProbe("cpu", outs[0]!);
  const scopegateProbe = windowProbe("cpu", outs[1]!);
  const servers: { pid: number; target: string; stop(): Promise<void> }[] = [];
  try {
    const t = await startTrivial(ctx.dir, response, { name: "profiled-trivial", nodeFlags: trivialProbe.flags, env: trivialProbe.env });
    servers.push({ pid: t.child.pid, target: t.tcpTarget, stop: () => t.stop() });
    const sg = await startScopegate({
      world: ctx.world,
      dir: ctx.dir,
      name: "profiled-one",
      configuredTenants: ctx.hot,
      logLevel: "info",
      nodeFlags: [...BOUNDED_HEAP, ...scopegateProbe.flags],
      env: { ...SHIPPED_ENV, ...scopegateProbe.env },
    });
    servers.push({ pid: sg.child.pid, target: sg.tcpTarget, stop: () => sg.stop() });
    for (const [i, server] of servers.entries()) {
      await expectAllAllowed(server.target, ctx.hotRequests.slice(0, ctx.hot.length), names[i]!);
      await runGhz(ghzRun(ctx, server.target, 1, ctx.plan.warmS));
    }
    const windows: PerRequest[][] = [[], []];
    for (let round = 0; round < rounds; round++) {
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const server = servers[i]!;
        await rm(outs[i]!, { force: true });
        const requests = await profileWindow(server.pid, outs[i]!, async () => {
          const r = await runGhz(ghzRun(ctx, server.target, 1, ctx.plan.profileS));
          return r.requests + r.errors;
        });
        windows[i]!.push({ summary: await summariseProfile(outs[i]!, 12), requests });
      }
    }
    const medians = windows.map(medianPerRequest);
    for (const [i, name] of names.entries()) {
      ctx.rows.push({
        section: "direct",
        label: `  CPU profile at one in flight (tcp c=1), median of ${rounds} rotated windows: ${name}`,
        value: `${cpuPerRequest(medians[i]!)}; busy per window ${windows[i]!.map((w) => (w.summary.busyUs / Math.max(1, w.requests)).toFixed(0)).join(", ")} µs/req`,
        command: `node --import=scripts/bench/window-probe.mjs … (SCOPEGATE_WINDOW_PROBE=cpu) under ${ghzCommand(ghzRun(ctx, "127.0.0.1:0", 1, ctx.plan.profileS))}`,
      });
    }
    ctx.rows.push({
      section: "direct",
      label: "  CPU difference per request at one in flight, scopegate − trivial (medians of the windows above)",
      value: cpuDifference(medians[0]!, medians[1]!),
      command: "the two profile rows above",
    });
  } finally {
    for (const s of servers) await s.stop();
  }
}
