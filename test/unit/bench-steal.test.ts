// The benchmark's hypervisor-steal reading (scripts/bench/machine.ts): which /proc/stat line and field it takes,
// and the share between two readings that the through-Envoy rows and the issue-15 targets print.
import { describe, expect, it } from "vitest";
import { cpuTicks, parseCpuTicks, stealShare } from "../../scripts/bench/machine.js";

// proc(5): user nice system idle iowait irq softirq steal guest guest_nice, aggregate line first.
const STAT = `cpu  1977652 0 482102 2588670 6704 0 82618 128714 0 0
cpu0 988000 0 241000 1294000 3300 0 41000 64000 0 0
cpu1 989652 0 241102 1294670 3404 0 41618 64714 0 0
intr 123 0 0
ctxt 456
`;

describe("parseCpuTicks", () => {
  it("takes the aggregate cpu line, steal as the eighth field, guest time not counted twice", () => {
    expect(parseCpuTicks(STAT)).toEqual({ steal: 128714, total: 1977652 + 482102 + 2588670 + 6704 + 82618 + 128714 });
  });

  it("never takes a per-core line for the aggregate", () => {
    expect(parseCpuTicks(STAT.split("\n").slice(1).join("\n"))).toBeUndefined();
  });

  it("says nothing for a text without the line, a short line or a non-number", () => {
    expect(parseCpuTicks("")).toBeUndefined();
    expect(parseCpuTicks("cpu  1 2 3 4 5 6 7\n")).toBeUndefined();
    expect(parseCpuTicks("cpu  1 2 3 4 5 6 7 x 0 0\n")).toBeUndefined();
  });
});

describe("stealShare", () => {
  it("is the stolen share of all the ticks between two readings", () => {
    expect(stealShare({ steal: 100, total: 1_000 }, { steal: 150, total: 1_500 })).toBeCloseTo(0.1, 12);
    expect(stealShare({ steal: 100, total: 1_000 }, { steal: 100, total: 1_200 })).toBe(0);
  });

  it("says nothing without two readings or when no tick passed", () => {
    expect(stealShare(undefined, { steal: 1, total: 2 })).toBeUndefined();
    expect(stealShare({ steal: 1, total: 2 }, undefined)).toBeUndefined();
    expect(stealShare({ steal: 1, total: 2 }, { steal: 1, total: 2 })).toBeUndefined();
  });

  it("reads this Linux machine's /proc/stat: a share between 0 and 1 across some busy work", async () => {
    const before = cpuTicks();
    expect(before).toBeDefined();
    const until = Date.now() + 50;
    while (Date.now() < until); // ~50 ms of CPU: at 100 ticks/s both readings differ by some ticks
    await new Promise((r) => setTimeout(r, 20));
    const share = stealShare(before, cpuTicks());
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  });
});
