/**
 * The decision log: one line per check, built from codes and ids only, never request headers or tokens. The
 * composition root wires it to the Check server; the bench's stage costs time this same function.
 *
 * The line is written straight to the logger's destination, in the logger's own format: the level number,
 * the time, the logger's bindings (`service`, a cluster worker's `worker`), the fields, `msg`. This is the one
 * line per request, and pino's generic path (a walk over the object, serialiser and type checks per value,
 * hooks) was several times the cost of building the string (bench stage "decision log line"). Everything else
 * goes through pino. test/unit/decision-log.test.ts checks the lines against pino's own for the logger
 * createLogger builds, on random outcomes.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { CheckOutcome } from "../authz/authorizer.js";
import { DENY_REASONS } from "../authz/deny-reasons.js";

export type DecisionLog = (outcome: CheckOutcome, durationMs: number) => void;

/** `which`: "all" logs every check; "denials" only denials: allows and logins are left to Envoy's access log (config logging.decisions). */
export function decisionLogger(parent: Logger, which: "all" | "denials"): DecisionLog {
  // pino.symbols exposes a logger's non-public state "for performant integration" (pino's docs/api.md, pino.symbols);
  // pino is pinned, and test/unit/decision-log.test.ts fails if what is read here stops matching pino's own lines.
  const internals = parent as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as DestinationStream;
  const time = internals[pino.symbols.timeSym] as () => string;
  const bindings = (internals[pino.symbols.chindingsSym] as string | undefined) ?? "";
  const levels = parent.levels.values;
  return (o, durationMs) => {
    if (which === "denials" && o.decision !== "deny") return;
    const level = o.reason ? DENY_REASONS[o.reason].level : "info";
    if (!parent.isLevelEnabled(level)) return;
    // Field order and omissions as pino writes them: undefined fields are left out.
    stream.write(
      `{"level":${levels[level]}${time()}${bindings}${o.tenant === undefined ? "" : `,"tenant":${JSON.stringify(o.tenant)}`},"decision":"${o.decision}"${
        o.reason === undefined ? "" : `,"reason":"${o.reason}"`
      }${o.tokenCache === undefined ? "" : `,"tokenCache":"${o.tokenCache}"`}${o.mtls === undefined ? "" : `,"mtls":${o.mtls}`},"durationMs":${Number.isFinite(durationMs) ? roundMs(durationMs) : null},"requestId":${JSON.stringify(o.requestId)},"msg":"check"}\n`,
    );
  };
}

/** Milliseconds to microsecond precision, for log lines. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
