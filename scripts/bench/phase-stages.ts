// What scopegate itself spends on a cached check, stage by stage, without the transport: a real app (startApp,
// from src) in the harness process, its log going to /dev/null, each stage timed in a tight loop over the hot
// requests (median of 5 alternating repetitions). Next to the trivial server's CPU per request (the transport),
// this says which stages are worth making cheaper, and by how much the proposals in docs/benchmarks.md would.
import pino from "pino";
import { startApp } from "../../src/app.js";
import type { CheckOutcome } from "../../src/authz/authorizer.js";
import { parseConfig } from "../../src/config/index.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { decisionLogger } from "../../src/observability/decision-log.js";
import { createLogger } from "../../src/observability/logger.js";
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
  const destination = pino.destination({ dest: "/dev/null", sync: true });
  const logger = createLogger("info", destination);
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
    const n = bytes.length;
    const stages: Stage[] = [
      { name: "authorize: Authorizer.check, cached (reads the request bytes, tenant, division plan, token, pre-encoded answer; synchronous, no timer)", run: (i) => app.authorizer.check(bytes[i % n]!, new Deadline(5000)) },
      { name: "  for comparison: decoding the whole CheckRequest with the generated ts-proto decoder (no longer on the hot path)", run: (i) => CheckRequest.decode(bytes[i % n]!) },
      { name: "  for comparison: AbortSignal.timeout (created only when a check waits for I/O)", run: () => AbortSignal.timeout(5000) },
      { name: "decision log line (the shipped decisionLogger; sync write to /dev/null)", run: (i) => logDecision(outcomes[i % n]!, 0.123) },
      { name: "  for comparison: the same line with the redaction list on", run: (i) => logger.info(line(outcomes[i % n]!), "check") },
      { name: "metrics.observeCheck (prom-client counters + histogram, labels per call)", run: (i) => app.metrics.observeCheck(outcomes[i % n]!, 0.123) },
    ];
    const iterations = ctx.plan.mode === "full" ? 40_000 : 4_000;
    const samples = new Map<string, number[]>(stages.map((s) => [s.name, []] as [string, number[]]));
    for (let rep = 0; rep < 5; rep++) {
      for (const s of stages) samples.get(s.name)!.push(timeSync(s.run, iterations));
    }
    const us = (name: string): number => median(samples.get(name)!);
    const [authorize, , , log, , metrics] = stages.map((s) => s.name) as [string, string, string, string, string, string];
    const shipped = us(authorize) + us(log) + us(metrics);
    for (const s of stages) {
      ctx.rows.push({ section: "stages", label: s.name, value: `${us(s.name).toFixed(2)} µs`, command: `in-process loop, ${iterations.toLocaleString("en-US")} operations × 5, median` });
    }
    ctx.rows.push({
      section: "stages",
      label: "scopegate's own work per cached check (authorize + log line + metrics)",
      value: `${shipped.toFixed(1)} µs`,
      command: "sum of the shipped stages above; transport (grpc-js + HTTP/2) comes on top, see the trivial server's CPU µs/req",
    });
  } finally {
    await app.stop(1000);
    destination.end();
  }
}

function timeSync(run: (i: number) => unknown, iterations: number): number {
  let sink: unknown;
  for (let i = 0; i < iterations / 10; i++) sink = run(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = run(i);
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === Symbol.for("never")) process.stdout.write("");
  return ns / iterations / 1000;
}
