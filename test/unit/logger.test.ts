import fc from "fast-check";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ATOMIC_WRITE_BYTES, LineBatch, LOG_BUFFER_BYTES, LOG_FLUSH_MS, isoTimeOncePerMs } from "../../src/observability/logger.js";

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

  it("gives pino's isoTime output at any instant, in any order", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }), (t) => {
        vi.setSystemTime(t);
        expect(isoTimeOncePerMs()).toBe(pino.stdTimeFunctions.isoTime());
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("LineBatch", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const sink = () => {
    const writes: string[] = [];
    let syncs = 0;
    return { writes, syncs: () => syncs, write: (c: Buffer) => writes.push(c.toString("utf8")), flushSync: () => void syncs++ };
  };
  const line = fc
    .tuple(fc.string({ unit: fc.constantFrom("a", "{", "\"", "é", "€", "𝄞"), maxLength: 1500 }), fc.nat(6000))
    .map(([s, pad]) => `${s}${"x".repeat(pad % 7 === 0 ? pad : pad % 300)}\n`);

  it("writes every line once, in order, whole, in writes of at most 4096 bytes unless one line is longer", () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 80 }), (lines) => {
        const s = sink();
        const batch = new LineBatch(s, 60_000);
        for (const l of lines) batch.write(l);
        batch.close();
        expect(s.writes.join("")).toBe(lines.join(""));
        for (const w of s.writes) {
          expect(w.endsWith("\n")).toBe(true);
          const bytes = Buffer.byteLength(w);
          if (bytes > ATOMIC_WRITE_BYTES) expect(w.indexOf("\n")).toBe(w.length - 1); // one long line, alone
        }
        // Batches are not split needlessly: two neighbouring writes would not have fitted in one.
        for (let i = 1; i < s.writes.length; i++) {
          const firstLineOfNext = s.writes[i]!.slice(0, s.writes[i]!.indexOf("\n") + 1);
          const prev = Buffer.byteLength(s.writes[i - 1]!);
          expect(prev >= LOG_BUFFER_BYTES || prev + Buffer.byteLength(firstLineOfNext) > ATOMIC_WRITE_BYTES).toBe(true);
        }
      }),
    );
  });

  it("has a timer only while lines wait (an idle process is not woken up), and writes at once once closed", () => {
    vi.useFakeTimers();
    const s = sink();
    const batch = new LineBatch(s);
    expect(vi.getTimerCount()).toBe(0);
    batch.write("a\n");
    batch.write("b\n");
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(LOG_FLUSH_MS);
    expect(s.writes).toEqual(["a\nb\n"]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * LOG_FLUSH_MS);
    expect(vi.getTimerCount()).toBe(0);
    batch.write("c\n");
    batch.close();
    expect(s.writes).toEqual(["a\nb\n", "c\n"]);
    expect(vi.getTimerCount()).toBe(0);
    batch.write("d\n");
    expect(s.writes.at(-1)).toBe("d\n");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("writes a batch once it holds LOG_BUFFER_BYTES, and a smaller one within LOG_FLUSH_MS", () => {
    vi.useFakeTimers();
    const s = sink();
    const batch = new LineBatch(s);
    batch.write("first\n");
    batch.write("second\n");
    expect(s.writes).toEqual([]);
    vi.advanceTimersByTime(LOG_FLUSH_MS);
    expect(s.writes).toEqual(["first\nsecond\n"]);
    const big = `${"y".repeat(LOG_BUFFER_BYTES)}\n`;
    batch.write(big);
    expect(s.writes).toEqual(["first\nsecond\n", big]);
    batch.write("last\n");
    batch.flushSync();
    expect(s.writes.at(-1)).toBe("last\n");
    expect(s.syncs()).toBe(1);
    batch.close();
  });
});
