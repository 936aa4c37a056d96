import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isoTimeOncePerMs } from "../../src/observability/logger.js";

describe("isoTimeOncePerMs", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives pino's isoTime output, formatted once per millisecond", () => {
    // A fixed clock: both functions read the same millisecond, whatever the machine's load.
    vi.useFakeTimers({ toFake: ["Date"] });
    let t = Date.UTC(2026, 11, 2, 13, 59, 59, 998);
    for (let i = 0; i < 2_000; i++) {
      vi.setSystemTime(t);
      const ours = isoTimeOncePerMs();
      expect(ours).toBe(pino.stdTimeFunctions.isoTime());
      expect(ours).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
      // Within one millisecond the cached string is returned; the next millisecond formats anew.
      expect(isoTimeOncePerMs()).toBe(ours);
      t += i % 3 === 0 ? 0 : 1;
    }
  });
});
