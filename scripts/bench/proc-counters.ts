// What the kernel counts for one server process, read from /proc without touching the process (no ptrace, no
// probe): CPU time on the main thread (the event loop: JavaScript, the GC's main-thread part) and on its other
// threads (V8's GC helpers and compiler, libuv's pool), context switches (a voluntary one is the thread going to
// sleep: a wait in epoll or on a futex, so each is a wake-up later), and read- and write-like system calls
// (proc(5): /proc/<pid>/io syscr and syscw, which count read(2)/recvmsg(2)… and write(2)/writev(2)/sendmsg(2)…).
// Between two readings, per request: whether a server's extra CPU is work it computes or work it waits for.
import { readdirSync, readFileSync } from "node:fs";
import { CLOCK_TICKS_PER_SECOND, statCpuTicks } from "./child.js";

export interface ProcCounters {
  /** utime + stime of the thread whose id is the process id, in clock ticks. */
  readonly mainTicks: number;
  /** utime + stime of every other thread, in clock ticks. */
  readonly otherTicks: number;
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
  readonly readCalls: number;
  readonly writeCalls: number;
}

/** The counters of a live process, or undefined where /proc is not readable (not Linux, process gone). */
export function procCounters(pid: number): ProcCounters | undefined {
  try {
    const threads = readdirSync(`/proc/${pid}/task`).map((tid) => ({
      main: Number(tid) === pid,
      stat: readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"),
      status: readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"),
    }));
    return parseProcCounters(threads, readFileSync(`/proc/${pid}/io`, "utf8"));
  } catch {
    return undefined;
  }
}

/** From each thread's stat and status texts and the process's io text (proc(5)); undefined if any is malformed. */
export function parseProcCounters(threads: readonly { main: boolean; stat: string; status: string }[], io: string): ProcCounters | undefined {
  let mainTicks = 0;
  let otherTicks = 0;
  let voluntarySwitches = 0;
  let involuntarySwitches = 0;
  for (const t of threads) {
    const ticks = statCpuTicks(t.stat);
    const voluntary = field(t.status, "voluntary_ctxt_switches");
    const involuntary = field(t.status, "nonvoluntary_ctxt_switches");
    if (!Number.isFinite(ticks) || voluntary === undefined || involuntary === undefined) return undefined;
    if (t.main) mainTicks += ticks;
    else otherTicks += ticks;
    voluntarySwitches += voluntary;
    involuntarySwitches += involuntary;
  }
  const readCalls = field(io, "syscr");
  const writeCalls = field(io, "syscw");
  if (threads.length === 0 || readCalls === undefined || writeCalls === undefined) return undefined;
  return { mainTicks, otherTicks, voluntarySwitches, involuntarySwitches, readCalls, writeCalls };
}

/** Between two readings, per request: CPU in µs on the main and the other threads, switches and system calls. */
export interface ProcPerRequest {
  readonly mainCpuUs: number;
  readonly otherCpuUs: number;
  readonly wakeUps: number;
  readonly preemptions: number;
  readonly syscalls: number;
}

export function procPerRequest(before: ProcCounters | undefined, after: ProcCounters | undefined, requests: number): ProcPerRequest | undefined {
  if (!before || !after || requests <= 0) return undefined;
  const per = (a: number, b: number): number => (a - b) / requests;
  return {
    mainCpuUs: (per(after.mainTicks, before.mainTicks) * 1e6) / CLOCK_TICKS_PER_SECOND,
    // A thread that ended between the readings takes its ticks with it: never below zero.
    otherCpuUs: Math.max(0, (per(after.otherTicks, before.otherTicks) * 1e6) / CLOCK_TICKS_PER_SECOND),
    wakeUps: Math.max(0, per(after.voluntarySwitches, before.voluntarySwitches)),
    preemptions: Math.max(0, per(after.involuntarySwitches, before.involuntarySwitches)),
    syscalls: per(after.readCalls + after.writeCalls, before.readCalls + before.writeCalls),
  };
}

function field(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+)\\s*$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}
