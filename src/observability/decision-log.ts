/**
 * The decision log: one line per check, built from codes and ids only, never request headers or tokens. The
 * composition root wires it to the Check server; the bench's stage costs time this same function.
 */
import type { Logger } from "pino";
import type { CheckOutcome } from "../authz/authorizer.js";
import { DENY_REASONS } from "../authz/deny-reasons.js";

export type DecisionLog = (outcome: CheckOutcome, durationMs: number) => void;

/** `which`: "all" logs every check; "denials" only denials: allows and logins are left to Envoy's access log (config logging.decisions). */
export function decisionLogger(parent: Logger, which: "all" | "denials"): DecisionLog {
  // The line is built from codes and ids only, so redaction could never match: skip its cost on the hot path
  // (the bench's stage costs show it: "decision log line" with and without the redaction list).
  const logger = parent.child({}, { redact: [] });
  return (o, durationMs) => {
    if (which === "denials" && o.decision !== "deny") return;
    const level = o.reason ? DENY_REASONS[o.reason].level : "info";
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        tenant: o.tenant,
        decision: o.decision,
        reason: o.reason,
        tokenCache: o.tokenCache,
        mtls: o.mtls,
        durationMs: roundMs(durationMs),
        requestId: o.requestId,
      },
      "check",
    );
  };
}

/** Milliseconds to microsecond precision, for log lines. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
