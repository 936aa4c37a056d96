// CPU an idle server uses: scopegate as shipped, scopegate with prom-client's default event-loop sampling (10 ms),
// and the bench's trivial grpc-js server, started side by side and left without traffic; each one's user+system
// time (/proc/<pid>/stat, 10 ms ticks) over the same window, per second. A sidecar runs beside every workload
// and is idle most of the time: what it burns doing nothing is paid in every pod.
//
//   npm run build && npx tsx scripts/bench/idle-cpu.ts [--seconds 20]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../../test/support/tools.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "20" } } });
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 5 || seconds > 600) throw new Error("--seconds: 5 to 600");

const dir = await mkdtemp(join(tmpdir(), "scopegate-idle-"));
const children: { name: string; child: ChildProcess }[] = [];
try {
  const scopegate = async (name: string, eventLoopResolutionMs?: number): Promise<void> => {
    const file = `scopegate-${children.length}`;
    const config = join(dir, `${file}.yaml`);
    await writeFile(
      config,
      [
        `listen: { unixSocket: ${join(dir, `${file}.sock`)} }`,
        "http: { listen: 127.0.0.1:0 }",
        `secrets: { backend: file, file: { directory: ${dir} } }`,
        "tenants: [{ id: acme, divisions: [d1], environment: mypurecloud.de }]",
        ...(eventLoopResolutionMs === undefined ? [] : [`metrics: { eventLoopResolutionMs: ${eventLoopResolutionMs} }`]),
        "",
      ].join("\n"),
    );
    children.push({ name, child: spawn(process.execPath, ["dist/main.js", "serve", "--config", config], { cwd: repoRoot, stdio: "ignore" }) });
  };
  await scopegate("scopegate as shipped");
  await scopegate("scopegate, metrics.eventLoopResolutionMs: 10 (prom-client's default)", 10);
  children.push({
    name: "trivial grpc-js server",
    child: spawn(process.execPath, ["scripts/bench/trivial-server.ts", "--response", "AA==", "--uds", join(dir, "trivial.sock")], { cwd: repoRoot, stdio: "ignore" }),
  });
  await new Promise((r) => setTimeout(r, 5_000)); // started and settled
  for (const { name, child } of children) if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
  const before = await Promise.all(children.map(({ child }) => cpuTicks(child.pid!)));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await Promise.all(children.map(({ child }) => cpuTicks(child.pid!)));
  console.log(`idle CPU over ${seconds} s, same window (ms of CPU per second; 10 ms ticks):`);
  children.forEach(({ name }, i) => console.log(`  ${name}: ${(((after[i]! - before[i]!) * 10) / seconds).toFixed(2)} ms/s`));
} finally {
  for (const { child } of children) child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  await rm(dir, { recursive: true, force: true });
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat, after the command name). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}
