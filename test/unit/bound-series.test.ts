/**
 * The bound series against prom-client's own Counter and Histogram fed the same updates: the same exposition
 * text, the same JSON, the same cluster aggregate, read once or several times between updates.
 */
import fc from "fast-check";
import { AggregatorRegistry, Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BoundHistogram, CounterTally, type CounterSeries, type HistogramSeries } from "../../src/observability/bound-series.js";

const BUCKETS = [0.0001, 0.001, 0.01, 0.1, 1];
const decision = fc.constantFrom("allow", "deny", "login");
const value = fc.oneof(fc.double({ min: 0, max: 3, noNaN: true }), fc.constantFrom(...BUCKETS), fc.constant(0));
/** Updates, with reads of the registry in between ("read"). */
const script = fc.array(fc.oneof({ weight: 9, arbitrary: fc.tuple(decision, value) }, { weight: 1, arbitrary: fc.constant("read" as const) }), {
  maxLength: 80,
});

/** prom-client's JSON with what only its own classes add (exemplar placeholders) left out. */
async function json(r: Registry): Promise<unknown> {
  const families = await r.getMetricsAsJSON();
  return families.map((f) => ({ ...f, values: f.values.map(({ labels, value, metricName }: { labels: unknown; value: number; metricName?: string }) => ({ labels, value, metricName })) }));
}

function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({ name: "h_seconds", help: "h", labelNames: ["decision"], buckets: BUCKETS, registers: [theirs] });
  const bound = new BoundHistogram({ name: "h_seconds", help: "h", buckets: BUCKETS, registers: [ours] });
  const counter = new Counter({ name: "c_total", help: "c", labelNames: ["decision", "reason"], registers: [theirs] });
  const tally = new CounterTally<"decision" | "reason">();
  new Counter({
    name: "c_total",
    help: "c",
    labelNames: ["decision", "reason"],
    registers: [ours],
    collect() {
      tally.flushInto(this);
    },
  });
  const hSeries = new Map<string, HistogramSeries>();
  const cSeries = new Map<string, CounterSeries>();
  return {
    theirs,
    ours,
    update(d: string, v: number) {
      histogram.observe({ decision: d }, v);
      counter.inc({ decision: d, reason: "" });
      if (!hSeries.has(d)) hSeries.set(d, bound.series({ decision: d }));
      if (!cSeries.has(d)) cSeries.set(d, tally.series({ decision: d, reason: "" }));
      hSeries.get(d)!.observe(v);
      cSeries.get(d)!.inc();
    },
  };
}

describe("bound series (bound-series.ts)", () => {
  it("export what prom-client's Counter and Histogram export for the same updates, however often they are read", async () => {
    await fc.assert(
      fc.asyncProperty(script, async (steps) => {
        const p = pair();
        for (const step of steps) {
          if (step === "read") {
            expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
          } else p.update(...step);
        }
        expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
        expect(await json(p.ours)).toEqual(await json(p.theirs));
      }),
      { numRuns: 200 },
    );
  });

  it("aggregate across cluster processes as prom-client's own do", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(decision, value), { maxLength: 30 }), fc.array(fc.tuple(decision, value), { maxLength: 30 }), async (a, b) => {
        const [p, q] = [pair(), pair()];
        for (const u of a) p.update(...u);
        for (const u of b) q.update(...u);
        const theirs = AggregatorRegistry.aggregate([await p.theirs.getMetricsAsJSON(), await q.theirs.getMetricsAsJSON()]);
        const ours = AggregatorRegistry.aggregate([await p.ours.getMetricsAsJSON(), await q.ours.getMetricsAsJSON()]);
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it("a counter series counts each increment once, read or not, and stays unexported until incremented", async () => {
    const r = new Registry();
    const tally = new CounterTally<"result">();
    new Counter({ name: "x_total", help: "x", labelNames: ["result"], registers: [r], collect() { tally.flushInto(this); } });
    const hit = tally.series({ result: "hit" });
    tally.series({ result: "miss" });
    expect(await r.metrics()).not.toMatch(/x_total\{/);
    hit.inc();
    hit.inc();
    expect(await r.metrics()).toMatch(/x_total\{result="hit"\} 2\n/);
    expect(await r.metrics()).toMatch(/x_total\{result="hit"\} 2\n/);
    hit.inc();
    expect(await r.metrics()).toMatch(/x_total\{result="hit"\} 3\n/);
    expect(await r.metrics()).not.toMatch(/result="miss"/);
  });

  it("a histogram ignores non-finite values and resetMetrics() empties it", async () => {
    const r = new Registry();
    const h = new BoundHistogram({ name: "y_seconds", help: "y", buckets: BUCKETS, registers: [r] });
    const s = h.series({ decision: "allow" });
    s.observe(Number.NaN);
    s.observe(Number.POSITIVE_INFINITY);
    expect(await r.metrics()).not.toMatch(/y_seconds_count/);
    s.observe(0.5);
    expect(await r.metrics()).toMatch(/y_seconds_count\{decision="allow"\} 1\n/);
    r.resetMetrics();
    expect(await r.metrics()).not.toMatch(/y_seconds_count/);
    s.observe(2);
    expect(await r.metrics()).toMatch(/y_seconds_bucket\{le="1",decision="allow"\} 0\n/);
    expect(await r.metrics()).toMatch(/y_seconds_bucket\{le="\+Inf",decision="allow"\} 1\n/);
    expect(await r.metrics()).toMatch(/y_seconds_sum\{decision="allow"\} 2\n/);
  });
});
