import { describe, expect, it, vi } from "vitest";
import { Deadline } from "../../src/util/deadline.js";


describe("Deadline", () => {
  it("creates no timer until a signal is asked for, and reports expiry from the clock", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let now = 1_000;
      const d = new Deadline(50, () => now);
      expect(d.expired).toBe(false);
      now = 1_050;
      expect(d.expired).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      void d.signal;
      expect(vi.getTimerCount()).toBe(1);
      d.release();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("aborts its signal with a TimeoutError when the budget runs out", async () => {
    const d = new Deadline(20);
    const signal = d.signal;
    await new Promise((r) => setTimeout(r, 60));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe("TimeoutError");
    expect(d.expired).toBe(true);
  });

  it("release() clears the timer: a finished check holds nothing until its deadline", async () => {
    const d = new Deadline(20);
    const signal = d.signal;
    d.release();
    await new Promise((r) => setTimeout(r, 60));
    expect(signal.aborted).toBe(false);
    expect(d.expired).toBe(true); // still told by the clock
  });
});
