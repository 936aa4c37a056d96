// The cluster primary's /metrics, in-process: real prom-client registries for the primary and two workers, the
// workers' answers through a JSON round trip as node:cluster's IPC does it. Outcomes asserted: the numbers and
// series on the scrape, and how long a scrape waits when a worker is gone or silent.
import { Gauge, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { CheckOutcome } from "../../src/authz/authorizer.js";
import { ClusterMetrics, type MetricsWorker } from "../../src/cluster/cluster-metrics.js";
import { fromWire, toWire, type MetricsAsk, type MetricsReply, type ProcessMetrics, type WireMetrics } from "../../src/cluster/protocol.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";

const check = (decision: "allow" | "deny", reason?: CheckOutcome["reason"]): CheckOutcome => ({
  bytes: Buffer.alloc(0),
  decision,
  requestId: "",
  ...(reason ? { reason } : {}),
});

/** One process: its app metrics, and a stand-in for its default process metrics labelled with its `worker`. */
function processOf(worker: string, lag: number): { metrics: Metrics; data: () => Promise<ProcessMetrics> } {
  const metrics = createMetrics({ perTenantLabels: false, maxTenantLabels: 1, eventLoopResolutionMs: 100, defaultMetrics: false });
  const proc = new Registry();
  new Gauge({ name: "scopegate_nodejs_eventloop_lag_seconds", help: "lag", labelNames: ["worker"], aggregator: "average", registers: [proc] }).set({ worker }, lag);
  return { metrics, data: async () => ({ app: await metrics.registry.getMetricsAsJSON(), process: await proc.getMetricsAsJSON() }) };
}

type Behaviour = "answer" | "silent" | "exits" | "closed";

/** A worker end of the channel: answers (through JSON, as IPC does), stays silent, exits, or cannot be sent to. */
function worker(slot: number, data: () => Promise<ProcessMetrics>, behaviour: () => Behaviour, primary: () => ClusterMetrics): MetricsWorker {
  return {
    slot,
    ask(m: MetricsAsk, failed: () => void) {
      const b = behaviour();
      if (b === "closed") return setImmediate(failed);
      if (b === "exits") return void setTimeout(() => primary().workerGone(slot), 20);
      if (b === "silent") return;
      void data().then((d) => {
        const wire = JSON.parse(JSON.stringify(toWire(d))) as WireMetrics;
        const reply: MetricsReply = { tag: "scopegate.cluster", type: "metrics.reply", id: m.id, metrics: wire };
        setTimeout(() => primary().handle(slot, reply), 5);
      });
    },
  };
}

function setup(timeoutMs = 300) {
  const primaryProc = processOf("primary", 0.001);
  const w1 = processOf("1", 0.002);
  const w2 = processOf("2", 0.5);
  const behaviours: Record<number, Behaviour> = { 1: "answer", 2: "answer" };
  const timedOut: number[][] = [];
  const cm: ClusterMetrics = new ClusterMetrics({
    own: primaryProc.data,
    workers: () => [worker(1, w1.data, () => behaviours[1]!, () => cm), worker(2, w2.data, () => behaviours[2]!, () => cm)],
    timeoutMs,
    onTimeout: (slots) => timedOut.push(slots),
  });
  return { cm, primary: primaryProc.metrics, w1: w1.metrics, w2: w2.metrics, behaviours, timedOut };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await p;
  return { value, ms: performance.now() - started };
}

describe("cluster /metrics", () => {
  it("sums the workers' checks with the primary's own metrics and keeps process metrics per worker", async () => {
    const { cm, primary, w1, w2 } = setup();
    for (let i = 0; i < 3; i++) w1.observeCheck(check("allow"), 1);
    w1.observeCheck(check("deny", "tenant_unknown"), 1);
    for (let i = 0; i < 4; i++) w2.observeCheck(check("allow"), 2);
    w2.observeCheck(check("deny", "tenant_unknown"), 2);
    w2.observeCheck(check("deny", "division_forbidden"), 2);
    primary.tokenRequest("ok", 30);
    primary.setConfigValid(false);

    const text = await cm.metrics();
    expect(sample(text, 'scopegate_checks_total{decision="allow",reason=""}')).toBe(7);
    expect(sample(text, 'scopegate_checks_total{decision="deny",reason="tenant_unknown"}')).toBe(2);
    expect(sample(text, 'scopegate_checks_total{decision="deny",reason="division_forbidden"}')).toBe(1);
    expect(sample(text, 'scopegate_check_duration_seconds_count{decision="allow"}')).toBe(7);
    expect(sample(text, 'scopegate_check_duration_seconds_bucket{le="0.001",decision="allow"}')).toBe(3);
    expect(sample(text, 'scopegate_token_requests_total{outcome="ok"}')).toBe(1);
    // One process rejected its config: the pod reports 0, not a sum of 1s.
    expect(sample(text, "scopegate_config_last_reload_valid")).toBe(0);
    // Not averaged: worker 2's lag stays visible.
    expect(sample(text, 'scopegate_nodejs_eventloop_lag_seconds{worker="2"}')).toBe(0.5);
    expect(sample(text, 'scopegate_nodejs_eventloop_lag_seconds{worker="primary"}')).toBe(0.001);
    expect(text.match(/^# TYPE scopegate_checks_total /gm)).toHaveLength(1);
  });

  it("does not wait for a worker that exits or cannot be sent to", async () => {
    const { cm, w1, w2, behaviours, timedOut } = setup(5_000);
    w1.observeCheck(check("allow"), 1);
    w2.observeCheck(check("allow"), 1);
    behaviours[2] = "exits";
    const exited = await timed(cm.metrics());
    expect(exited.ms).toBeLessThan(1_000);
    expect(sample(exited.value, 'scopegate_checks_total{decision="allow",reason=""}')).toBe(1);
    behaviours[2] = "closed";
    expect(sample((await timed(cm.metrics())).value, 'scopegate_checks_total{decision="allow",reason=""}')).toBe(1);
    expect(timedOut).toEqual([]);
  });

  it("fails the scrape after timeoutMs when a live worker does not answer, rather than serve a partial sum", async () => {
    const { cm, w1, behaviours, timedOut } = setup(300);
    w1.observeCheck(check("allow"), 1);
    behaviours[2] = "silent";
    const started = performance.now();
    await expect(cm.metrics()).rejects.toThrow(/worker 2 did not answer within 300 ms/);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(timedOut).toEqual([[2]]);
    // The next scrape is whole again.
    behaviours[2] = "answer";
    expect(sample(await cm.metrics(), 'scopegate_checks_total{decision="allow",reason=""}')).toBe(1);
  });

  it("never lets a counter go down when a worker exits and is replaced (its last scraped counts stay in)", async () => {
    const primaryProc = processOf("primary", 0.001);
    const w1 = processOf("1", 0.002);
    let w2 = processOf("2", 0.002);
    const cm: ClusterMetrics = new ClusterMetrics({
      own: primaryProc.data,
      workers: () => [worker(1, w1.data, () => "answer", () => cm), worker(2, () => w2.data(), () => "answer", () => cm)],
      timeoutMs: 1_000,
    });
    const allowed = async (): Promise<number | undefined> => sample(await cm.metrics(), 'scopegate_checks_total{decision="allow",reason=""}');
    const durations = async (): Promise<number | undefined> => sample(await cm.metrics(), 'scopegate_check_duration_seconds_count{decision="allow"}');
    w1.metrics.observeCheck(check("allow"), 1);
    for (let i = 0; i < 5; i++) w2.metrics.observeCheck(check("allow"), 1);
    expect(await allowed()).toBe(6);
    const seen = [6];
    // Worker 2 dies twice and comes back each time, counting from zero.
    for (let restart = 0; restart < 2; restart++) {
      cm.workerExited(2);
      w2 = processOf("2", 0.002);
      seen.push((await allowed())!);
      w2.metrics.observeCheck(check("allow"), 1);
      seen.push((await allowed())!);
    }
    expect(seen).toEqual([6, 6, 7, 7, 8]);
    expect(await durations()).toBe(8);
    // Gauges of a dead worker are not kept: the pod's config_last_reload_valid is the live processes' minimum.
    expect(sample(await cm.metrics(), "scopegate_config_last_reload_valid")).toBe(1);
  });

  it("NaN and infinite gauge values survive the JSON channel", async () => {
    const reg = new Registry();
    const g = new Gauge({ name: "g", help: "g", labelNames: ["k"], registers: [reg] });
    g.set({ k: "nan" }, NaN);
    g.set({ k: "inf" }, Infinity);
    g.set({ k: "one" }, 1);
    const data: ProcessMetrics = { app: await reg.getMetricsAsJSON(), process: [] };
    const back = fromWire(JSON.parse(JSON.stringify(toWire(data))) as WireMetrics);
    expect(back.app[0]!.values.map((v) => v.value)).toEqual([NaN, Infinity, 1]);
  });
});
