/** A few seconds of `npm run soak`, to keep it working: counts only, no timing assertions. */
import { describe, expect, it } from "vitest";
import { runSoak } from "../support/soak.js";

describe("soak (shortened)", () => {
  it("steady traffic with refreshing tokens: no errors, no mismatches, RSS sampled", async () => {
    const r = await runSoak({ durationMs: 5000, rate: 100, tenants: 10, tokenLifetimeSeconds: 3, sampleEveryMs: 1000 });
    expect(r.requests).toBeGreaterThan(100);
    expect(r.non200).toBe(0);
    expect(r.errors).toBe(0);
    expect(r.mismatches).toBe(0);
    expect(r.upstreamRejected).toBe(0);
    expect(r.tokenRequests).toBeGreaterThan(10); // tokens expired and were replaced during the run
    expect(r.samples.length).toBeGreaterThanOrEqual(3);
    expect(r.samples.every((s) => s.rssMb > 0)).toBe(true);
  });
});
