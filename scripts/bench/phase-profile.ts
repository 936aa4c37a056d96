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
import { startScopegate } from "./scopegate-process.js";

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
