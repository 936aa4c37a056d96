// The benchmark's kernel counts per server (scripts/bench/proc-counters.ts): which fields of /proc's per-thread
// stat and status and of the process's io it takes, and the per-request differences the tail rows print.
import { describe, expect, it } from "vitest";
import { parseProcCounters, procCounters, procPerRequest, type ProcCounters } from "../../scripts/bench/proc-counters.js";

// proc(5): pid (comm) state ppid … utime(14) stime(15) …; a command name with spaces and a parenthesis.
const stat = (utime: number, stime: number): string =>
  `4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 11 0 1000 123456 789 18446744073709551615`;
const status = (voluntary: number, involuntary: number): string =>
  `Name:\tnode\nState:\tS (sleeping)\nThreads:\t11\nvoluntary_ctxt_switches:\t${voluntary}\nnonvoluntary_ctxt_switches:\t${involuntary}\n`;
const IO = "rchar: 100\nwchar: 200\nsyscr: 30\nsyscw: 40\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";

describe("parseProcCounters", () => {
  it("splits CPU ticks between the main thread and the others, sums switches over threads, takes syscr and syscw", () => {
    const counters = parseProcCounters(
      [
        { main: true, stat: stat(500, 120), status: status(1000, 70) },
        { main: false, stat: stat(30, 5), status: status(200, 3) },
        { main: false, stat: stat(7, 1), status: status(50, 1) },
      ],
      IO,
    );
    expect(counters).toEqual({ mainTicks: 620, otherTicks: 43, voluntarySwitches: 1250, involuntarySwitches: 74, readCalls: 30, writeCalls: 40 });
  });

  it("says nothing for a malformed text or no threads", () => {
    expect(parseProcCounters([{ main: true, stat: stat(1, 1), status: "Name:\tnode\n" }], IO)).toBeUndefined();
    expect(parseProcCounters([{ main: true, stat: "4242 (node) S 1", status: status(1, 1) }], IO)).toBeUndefined();
    expect(parseProcCounters([{ main: true, stat: stat(1, 1), status: status(1, 1) }], "rchar: 1\n")).toBeUndefined();
    expect(parseProcCounters([], IO)).toBeUndefined();
  });
});

describe("procPerRequest", () => {
  const before: ProcCounters = { mainTicks: 100, otherTicks: 10, voluntarySwitches: 1_000, involuntarySwitches: 100, readCalls: 50, writeCalls: 60 };
  it("is each count's growth per request, CPU ticks (1/100 s) in µs", () => {
    const after: ProcCounters = { mainTicks: 400, otherTicks: 40, voluntarySwitches: 21_000, involuntarySwitches: 2_100, readCalls: 5_050, writeCalls: 10_060 };
    const per = procPerRequest(before, after, 10_000)!;
    expect(per.mainCpuUs).toBeCloseTo(300, 9); // 300 ticks = 3 s over 10,000 requests
    expect(per.otherCpuUs).toBeCloseTo(30, 9);
    expect(per).toMatchObject({ wakeUps: 2, preemptions: 0.2, syscalls: 1.5 });
  });

  it("never counts below zero for a thread that ended, and says nothing without readings or requests", () => {
    const after: ProcCounters = { ...before, otherTicks: 4, mainTicks: 200 };
    expect(procPerRequest(before, after, 100)!.otherCpuUs).toBe(0);
    expect(procPerRequest(undefined, before, 10)).toBeUndefined();
    expect(procPerRequest(before, undefined, 10)).toBeUndefined();
    expect(procPerRequest(before, before, 0)).toBeUndefined();
  });

  it("reads a live process on this Linux machine: this one, across some busy work", () => {
    const first = procCounters(process.pid);
    expect(first).toBeDefined();
    const until = Date.now() + 50;
    while (Date.now() < until); // ~50 ms of main-thread CPU: at 100 ticks/s the readings differ by some ticks
    const per = procPerRequest(first, procCounters(process.pid), 1)!;
    expect(per.mainCpuUs).toBeGreaterThan(0);
    expect(per.otherCpuUs).toBeGreaterThanOrEqual(0);
    expect(procCounters(2 ** 22 + 1)).toBeUndefined(); // above Linux's pid_max: no such process
  });
});
