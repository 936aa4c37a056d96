import fc from "fast-check";
import type { DestinationStream } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CheckOutcome } from "../../src/authz/authorizer.js";
import { DENY_REASONS, type DenyReason } from "../../src/authz/deny-reasons.js";
import { decisionLogger, roundMs } from "../../src/observability/decision-log.js";
import { createLogger } from "../../src/observability/logger.js";

function capture(): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (s: string) => void lines.push(s) };
}

const reasons = Object.keys(DENY_REASONS) as DenyReason[];
const text = fc.string({ unit: "binary", maxLength: 60 });
const outcome: fc.Arbitrary<CheckOutcome> = fc.record(
  {
    bytes: fc.constant(Buffer.alloc(0)),
    decision: fc.constantFrom("allow", "deny", "login"),
    reason: fc.constantFrom(...reasons),
    tenant: text,
    tokenCache: fc.constantFrom("hit", "miss"),
    requestId: text,
    mtls: fc.boolean(),
    tenantKnown: fc.boolean(),
  },
  { requiredKeys: ["bytes", "decision", "requestId"] },
);

describe("decisionLogger", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes the line pino writes for the same fields, with the logger's bindings and level rules", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2026, 11, 2, 20, 0, 0, 123));
    fc.assert(
      fc.property(
        outcome,
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.constantFrom("info", "warn", "error", "silent") as fc.Arbitrary<"info" | "warn" | "error" | "silent">,
        fc.constantFrom("all", "denials") as fc.Arbitrary<"all" | "denials">,
        fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
        (o, ms, level, which, worker) => {
          const ours = capture();
          const theirs = capture();
          const base = createLogger(level, ours);
          const logger = worker === undefined ? base : base.child({ worker });
          decisionLogger(logger, which)(o, ms);
          // pino's own line for the same fields, level and bindings.
          const ref = createLogger(level, theirs);
          const refLogger = worker === undefined ? ref : ref.child({ worker });
          const lineLevel = o.reason ? DENY_REASONS[o.reason].level : "info";
          if ((which === "all" || o.decision === "deny") && refLogger.isLevelEnabled(lineLevel)) {
            refLogger[lineLevel](
              { tenant: o.tenant, decision: o.decision, reason: o.reason, tokenCache: o.tokenCache, mtls: o.mtls, durationMs: roundMs(ms), requestId: o.requestId },
              "check",
            );
          }
          expect(ours.lines.length).toBe(theirs.lines.length);
          for (let i = 0; i < ours.lines.length; i++) {
            expect(ours.lines[i]!.endsWith("\n")).toBe(true);
            expect(JSON.parse(ours.lines[i]!)).toEqual(JSON.parse(theirs.lines[i]!));
            // Same keys in the same order as pino's.
            expect(Object.keys(JSON.parse(ours.lines[i]!) as object)).toEqual(Object.keys(JSON.parse(theirs.lines[i]!) as object));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never writes a token or header value it was not given: the line holds only the outcome's codes and ids", () => {
    const out = capture();
    decisionLogger(createLogger("info", out), "all")(
      { bytes: Buffer.from("Bearer secret-token-value"), decision: "allow", tenant: "acme", tokenCache: "hit", requestId: "r-1", mtls: true, tenantKnown: true },
      0.5,
    );
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).not.toContain("secret-token-value");
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ level: 30, service: "scopegate", tenant: "acme", decision: "allow", durationMs: 0.5, requestId: "r-1", msg: "check" });
  });
});
