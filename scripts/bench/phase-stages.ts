// What scopegate itself spends on a cached check, stage by stage, without the transport: a real app (startApp,
// from src) in the harness process, its log going to /dev/null, each stage timed in a tight loop over the hot
// requests (median of 5 alternating repetitions). Next to the trivial server's CPU per request (the transport),
// this says which stages are worth making cheaper, and by how much the proposals in docs/benchmarks.md would.
import { readFileSync } from "node:fs";
import v8 from "node:v8";
import pino from "pino";
import { Counter, Histogram, Registry } from "prom-client";
import { startApp } from "../../src/app.js";
import { checkRequestPicker, type CheckOutcome } from "../../src/authz/authorizer.js";
import { readCheckRequest } from "../../src/authz/check-request-wire.js";
import { parseConfig } from "../../src/config/index.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { decisionLogger } from "../../src/observability/decision-log.js";
import { ATOMIC_WRITE_BYTES, createLogger, LineBatch, lineSink, LOG_BUFFER_BYTES, LOG_FLUSH_MS } from "../../src/observability/logger.js";
import type { Context } from "./context.js";
import { median } from "./report.js";
import { benchConfig, VAULT_TOKEN_ENV } from "./scopegate-process.js";
import { Deadline } from "../../src/util/deadline.js";

interface Stage {
  readonly name: string;
  /** One operation; `i` picks the request. */
  run(i: number): unknown;
}

export async function stagesPhase(ctx: Context): Promise<void> {
  // The shipped destination (bufferedStdout: LineBatch over a synchronous sonic-boom), writing to /dev/null.
  const destination = new LineBatch(lineSink("/dev/null"));
  const logger = createLogger("info", destination);
  // The destination before 2026-12-02: sonic-boom's own minLength buffering (one growing string per batch).
  // Before 2026-12-03 the line was a string and LineBatch gathered strings (StringBatch below keeps that code).
  const stringDestination = new StringBatch(pino.destination({ dest: "/dev/null", sync: true, maxWrite: ATOMIC_WRITE_BYTES }));
  const previousDestination = pino.destination({ dest: "/dev/null", sync: true, minLength: LOG_BUFFER_BYTES, maxWrite: ATOMIC_WRITE_BYTES, periodicFlush: LOG_FLUSH_MS });
  const config = parseConfig(benchConfig(ctx.world, { tcp: "127.0.0.1:0", configuredTenants: ctx.hot, logLevel: "info", maxTenants: 10_000 }));
  const app = await startApp({ config, logger, env: { [VAULT_TOKEN_ENV]: ctx.world.bao.rootToken }, defaultMetrics: false });
  try {
    const bytes = ctx.hotRequests;
    const outcomes: CheckOutcome[] = [];
    for (const r of bytes) {
      const o = await app.authorizer.check(r, new Deadline(5000));
      if (o.decision !== "allow") throw new Error(`stages: hot request denied (${o.reason})`);
      outcomes.push(o);
    }
    // Only for the comparison row: the same fields through a logger with the redaction list on.
    const line = (o: CheckOutcome): Record<string, unknown> => ({
      tenant: o.tenant,
      decision: o.decision,
      reason: o.reason,
      tokenCache: o.tokenCache,
      mtls: o.mtls,
      durationMs: 0.123,
      requestId: o.requestId,
    });
    const logDecision = decisionLogger(logger, "all");
    const logDecisionString = decisionLogger(createLogger("info", stringDestination), "all");
    // Before 2026-12-02 the decision line went through pino's logger.info (redaction off), into sonic-boom's buffer.
    const pinoLine = logger.child({}, { redact: [] });
    const pinoLineBefore = createLogger("info", previousDestination).child({}, { redact: [] });
    const n = bytes.length;
    const stages: Stage[] = [
      { name: "authorize: Authorizer.check, cached (reads the request bytes, tenant, division plan, token, pre-encoded answer; synchronous, no timer)", run: (i) => app.authorizer.check(bytes[i % n]!, new Deadline(5000)) },
      { name: "  for comparison: decoding the whole CheckRequest with the generated ts-proto decoder (no longer on the hot path)", run: (i) => CheckRequest.decode(bytes[i % n]!) },
      { name: "  for comparison: AbortSignal.timeout (created only when a check waits for I/O)", run: () => AbortSignal.timeout(5000) },
      { name: "decision log line (the shipped decisionLogger and stdout batching; sync writes to /dev/null)", run: (i) => logDecision(outcomes[i % n]!, 0.123) },
      { name: "  for comparison: the same line built as a string and batched as strings, as before 2026-12-03 (same sync writes)", run: (i) => logDecisionString(outcomes[i % n]!, 0.123) },
      { name: "  for comparison: the same line through pino's logger.info (redaction off), same batching", run: (i) => pinoLine.info(line(outcomes[i % n]!), "check") },
      { name: "  for comparison: through pino's logger.info into sonic-boom's own minLength buffering (before 2026-12-02)", run: (i) => pinoLineBefore.info(line(outcomes[i % n]!), "check") },
      { name: "  for comparison: the same line with the redaction list on", run: (i) => logger.info(line(outcomes[i % n]!), "check") },
      { name: "metrics.observeCheck (bound series counted in numbers, exported through prom-client)", run: (i) => app.metrics.observeCheck(outcomes[i % n]!, 0.123) },
      { name: "  for comparison: the same updates through prom-client's Counter.inc / Histogram.observe with labels per call (before 2026-12-03)", run: promClientPerCall(outcomes) },
    ];
    const iterations = ctx.plan.mode === "full" ? 200_000 : 4_000;
    const samples = new Map<string, Timed[]>(stages.map((s) => [s.name, []] as [string, Timed[]]));
    // Rotated order (A B C, B C A, …): a stage's garbage (AbortSignal.timeout leaves its timers alive for 5 s) is
    // collected during whichever stage follows it, so no stage always follows the same one.
    for (let rep = 0; rep < 5; rep++) {
      for (let k = 0; k < stages.length; k++) {
        const s = stages[(k + rep) % stages.length]!;
        samples.get(s.name)!.push(timeSync(s.run, iterations));
      }
    }
    const us = (name: string): number => median(samples.get(name)!.map((t) => t.us));
    const allocated = (name: string): number => median(samples.get(name)!.map((t) => t.bytes));
    const shippedRow = (prefix: string): string => stages.find((s) => s.name.startsWith(prefix))!.name;
    const [authorize, log, metrics] = [shippedRow("authorize:"), shippedRow("decision log line"), shippedRow("metrics.observeCheck")];
    const shipped = us(authorize) + us(log) + us(metrics);
    for (const s of stages) {
      const b = allocated(s.name);
      ctx.rows.push({
        section: "stages",
        label: s.name,
        value: `${us(s.name).toFixed(2)} µs, ${b >= 1024 ? `${(b / 1024).toFixed(1)} KB` : `${Math.round(b)} B`} allocated`,
        command: `in-process loop, ${iterations.toLocaleString("en-US")} operations × 5, median (bytes: heap growth between GCs, v8.GCProfiler)`,
      });
    }
    // The request's bytes are read back after the walk: in place grpc-js has just written them.
    const warmRequest = (i: number): number => bytes[i % n]!.reduce((a, b) => a + b, 0);
    const picker = checkRequestPicker(config.tenantHeader);
    coldRows(ctx, [
      { name: "authorize, cached, as above", run: stages[0]!.run, warm: warmRequest },
      { name: "  of which reading the request (scopegate's reader alone, src/authz/check-request-wire.ts)", run: (i) => readCheckRequest(bytes[i % n]!, picker), warm: warmRequest },
      { name: "  for comparison: decoding the whole CheckRequest with ts-proto, as a JavaScript ext_authz server usually reads it", run: stages[1]!.run, warm: warmRequest },
      { name: "  for comparison: a fixed answer (the outcome taken from an array, as a trivial handler would)", run: (i) => outcomes[i % n] },
    ]);
    ctx.rows.push({
      section: "stages",
      label: "scopegate's own work per cached check (authorize + log line + metrics)",
      value: `${shipped.toFixed(1)} µs`,
      command: "sum of the shipped stages above; transport (grpc-js + HTTP/2) comes on top, see the trivial server's CPU µs/req",
    });
  } finally {
    await app.stop(1000);
    destination.close();
    stringDestination.flush();
    previousDestination.end();
  }
}

/** LineBatch as it was before 2026-12-03: whole lines kept as strings, measured with Buffer.byteLength, joined per batch. */
class StringBatch {
  readonly #lines: string[] = [];
  #bytes = 0;
  constructor(private readonly sink: { write(chunk: string): unknown }) {}
  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.#bytes + bytes > ATOMIC_WRITE_BYTES) this.flush();
    this.#lines.push(line);
    this.#bytes += bytes;
    if (this.#bytes >= LOG_BUFFER_BYTES) this.flush();
  }
  flush(): void {
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.length === 1 ? this.#lines[0]! : this.#lines.join("");
    this.#lines.length = 0;
    this.#bytes = 0;
    this.sink.write(chunk);
  }
}

/** observeCheck as it was before 2026-12-03: prom-client's own counters and histogram, labels per call. */
function promClientPerCall(outcomes: readonly CheckOutcome[]): (i: number) => void {
  const registers = [new Registry()];
  const checks = new Counter({ name: "c_total", help: "c", labelNames: ["decision", "reason"], registers });
  const duration = new Histogram({ name: "d_seconds", help: "d", labelNames: ["decision"], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
  const cache = new Counter({ name: "t_total", help: "t", labelNames: ["result"], registers });
  return (i) => {
    const o = outcomes[i % outcomes.length]!;
    checks.inc({ decision: o.decision, reason: o.reason ?? "" });
    duration.observe({ decision: o.decision }, 0.123 / 1000);
    if (o.tokenCache) cache.inc({ result: o.tokenCache });
  };
}

interface ColdStage extends Stage {
  /** Brought back into the caches after the walk, untimed: what is warm before the operation in place too. */
  warm?(i: number): number;
}

/**
 * The same operation with the processor's caches evicted before each one, as they are in place: between two checks
 * at 1,000 req/s the two cores also run Envoy, the load generator and the kernel's network stack. A walk over a
 * buffer twice the size of a cache level (read from /sys) evicts that level and the ones below it; only the
 * operation is timed, not the walk (nor the read that brings the request's bytes back, as grpc-js has just written
 * them in place). The fixed-answer row is what the same timing reads for next to nothing.
 */
function coldRows(ctx: Context, ops: readonly ColdStage[]): void {
  const levels = unifiedCacheLevels();
  for (const level of levels) {
    // Filled, so that every page is its own (an untouched one reads the shared zero page).
    const walk = new Uint8Array(2 * level.bytes).fill(1);
    // A walk of the last level's twice-its-size buffer takes milliseconds: fewer operations there.
    const iterations = (level.bytes <= 4 * 1048576 ? 2_000 : 200) / (ctx.plan.mode === "full" ? 1 : 20);
    const samples = ops.map(() => [] as number[]);
    for (let rep = 0; rep < 5; rep++) {
      for (let k = 0; k < ops.length; k++) {
        const j = (k + rep) % ops.length;
        samples[j]!.push(timeCold(ops[j]!, iterations, walk));
      }
    }
    ops.forEach((op, j) => {
      ctx.rows.push({
        section: "stages",
        label: `${op.name}, with the L${level.level} cache and below evicted before each operation`,
        value: `${median(samples[j]!).toFixed(2)} µs`,
        command: `in-process, ${iterations.toLocaleString("en-US")} operations × 5, median; before each, a read of every 64-byte line of a ${(walk.length / 1048576).toFixed(0)} MiB buffer (2× the ${(level.bytes / 1048576).toFixed(0)} MiB L${level.level}, /sys/devices/system/cpu/cpu0/cache), not timed`,
      });
    });
  }
}

/** The unified cache levels of cpu0, from sysfs; none where sysfs does not say (the rows are then left out). */
export function unifiedCacheLevels(): { level: number; bytes: number }[] {
  const found: { level: number; bytes: number }[] = [];
  for (let i = 0; i < 8; i++) {
    const dir = `/sys/devices/system/cpu/cpu0/cache/index${i}`;
    try {
      const type = readFileSync(`${dir}/type`, "utf8").trim();
      const level = Number(readFileSync(`${dir}/level`, "utf8").trim());
      const size = /^(\d+)K$/.exec(readFileSync(`${dir}/size`, "utf8").trim());
      if (type === "Unified" && size) found.push({ level, bytes: Number(size[1]) * 1024 });
    } catch {
      break;
    }
  }
  return found;
}

function timeCold(op: ColdStage, iterations: number, walk: Uint8Array): number {
  let sink: unknown;
  let touched = 0;
  let ns = 0n;
  for (let i = 0; i < iterations; i++) {
    for (let b = 0; b < walk.length; b += 64) touched += walk[b]!;
    touched += op.warm?.(i) ?? 0;
    const t0 = process.hrtime.bigint();
    sink = op.run(i);
    ns += process.hrtime.bigint() - t0;
  }
  if (sink === Symbol.for("never") || touched < 0) process.stdout.write("");
  return Number(ns) / iterations / 1000;
}

interface Timed {
  readonly us: number;
  /** Heap bytes allocated per operation. */
  readonly bytes: number;
}

function timeSync(run: (i: number) => unknown, iterations: number): Timed {
  let sink: unknown;
  for (let i = 0; i < iterations / 10; i++) sink = run(i);
  const profiler = new v8.GCProfiler();
  profiler.start();
  const usedBefore = v8.getHeapStatistics().used_heap_size;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = run(i);
  const ns = Number(process.hrtime.bigint() - t0);
  const usedAfter = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  // Allocated = heap growth between one GC's end and the next one's start, summed over the loop.
  let bytes = 0;
  let prev = usedBefore;
  for (const gc of statistics) {
    bytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - prev);
    prev = gc.afterGC.heapStatistics.usedHeapSize;
  }
  bytes += Math.max(0, usedAfter - prev);
  if (sink === Symbol.for("never")) process.stdout.write("");
  return { us: ns / iterations / 1000, bytes: bytes / iterations };
}
