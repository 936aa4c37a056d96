import { describe, expect, it } from "vitest";
import { Deadline } from "../../src/util/deadline.js";

describe("Deadline", () => {
  it("creates no timer until a signal is asked for, and reports expiry from the clock", () => {
    let now = 1_000;
    const d = new Deadline(50, () => now);
    expect(d.expired).toBe(false);
    now = 1_050;
    expect(d.expired).toBe(true);
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
