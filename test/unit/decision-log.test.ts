import fc from "fast-check";
import type { DestinationStream } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CheckOutcome } from "../../src/authz/authorizer.js";
import { DENY_REASONS, type DenyReason } from "../../src/authz/deny-reasons.js";
import { decisionLogger, roundMs } from "../../src/observability/decision-log.js";
import { createLogger, LineBatch } from "../../src/observability/logger.js";

function capture(): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (s: string) => void lines.push(s) };
}

/** The shipped destination (a LineBatch, which decision lines are encoded into as bytes) over a sink that keeps the bytes. */
function batchCapture(): { batch: LineBatch; lines(): string[] } {
  const chunks: Buffer[] = [];
  const batch = new LineBatch({ write: (c: Buffer) => void chunks.push(Buffer.from(c)), flushSync: () => undefined }, 60_000);
  return {
    batch,
    lines() {
      batch.flush();
      const text = Buffer.concat(chunks).toString("utf8");
      return text === "" ? [] : text.split(/(?<=\n)/);
    },
  };
}

/** Durations as checks have them, and the odd ones the line must still print as pino would. */
const duration = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 0, max: 1e6, noNaN: true }) },
  fc.constantFrom(0, 0.0004, 0.0005, 0.001, 0.1, 0.12, 1.5, 10, 999.9995, 1e9, 1e12, 1e13, 8e15, 1e22, -0, -1, -0.0004, Number.NaN, Number.POSITIVE_INFINITY),
  fc.double({ noNaN: false }),
);

const reasons = Object.keys(DENY_REASONS) as DenyReason[];
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  // What JSON must escape or encode, and the printable ASCII edges next to it.
  fc.string({ unit: fc.constantFrom("a", "Z", "-", " ", "~", "\\", '"', "/", "\u0000", "\u001f", "\u007f", "\u0080", "é", "😀", "\ud800", "\u2028"), maxLength: 20 }),
);
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
        duration,
        fc.constantFrom("info", "warn", "error", "silent") as fc.Arbitrary<"info" | "warn" | "error" | "silent">,
        fc.constantFrom("all", "denials") as fc.Arbitrary<"all" | "denials">,
        fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
        fc.boolean(),
        (o, ms, level, which, worker, batched) => {
          const strings = capture();
          const bytes = batchCapture();
          const theirs = capture();
          const base = createLogger(level, batched ? bytes.batch : strings);
          const logger = worker === undefined ? base : base.child({ worker });
          decisionLogger(logger, which)(o, ms);
          const ours = { lines: batched ? bytes.lines() : strings.lines };
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
            // Byte for byte (number printing included), not just the same JSON.
            expect(ours.lines[i]).toBe(theirs.lines[i]);
            expect(JSON.parse(ours.lines[i]!)).toEqual(JSON.parse(theirs.lines[i]!));
            // Same keys in the same order as pino's.
            expect(Object.keys(JSON.parse(ours.lines[i]!) as object)).toEqual(Object.keys(JSON.parse(theirs.lines[i]!) as object));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("encodes lines into the batch between pino's own lines, in order, across batch boundaries", () => {
    const bytes = batchCapture();
    const logger = createLogger("info", bytes.batch);
    const log = decisionLogger(logger, "all");
    const expected: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      const tenant = i % 7 === 0 ? `t\u00e9-"${i}"` : `tenant-${i}`;
      log({ bytes: Buffer.alloc(0), decision: "allow", tenant, tenantKnown: true, tokenCache: "hit", requestId: `r-${i}`, mtls: false }, i / 7);
      expected.push({ tenant, requestId: `r-${i}`, durationMs: roundMs(i / 7) });
      if (i % 10 === 0) {
        logger.info({ i }, "between");
        expected.push({ i, msg: "between" });
      }
    }
    const lines = bytes.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(expected.length);
    lines.forEach((l, k) => expect(l).toMatchObject(expected[k] as object));
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
