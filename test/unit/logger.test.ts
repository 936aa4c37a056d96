import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { isoTimeOncePerMs } from "../../src/observability/logger.js";

describe("isoTimeOncePerMs", () => {
  it("gives pino's isoTime output, formatted once per millisecond", () => {
    for (let i = 0; i < 2_000; i++) {
      const ours = isoTimeOncePerMs();
      const theirs = pino.stdTimeFunctions.isoTime();
      // The clock may tick between the two calls: then both are valid ISO times one millisecond apart.
      if (ours !== theirs) expect(Date.parse(theirs.slice(9, -1)) - Date.parse(ours.slice(9, -1))).toBeLessThanOrEqual(1);
      expect(ours).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
    }
  });
});
