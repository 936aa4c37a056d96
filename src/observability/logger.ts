/**
 * The logger, with the redaction list in one place. Secrets and tokens are also kept out by construction
 * (ClientCredentials, AccessKey and TokenEntry never serialise their secret parts; decision lines carry codes only),
 * so these paths are the second line of defence.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";

export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "token",
  "*.token",
  "access_token",
  "*.access_token",
  "clientSecret",
  "*.clientSecret",
  "client_secret",
  "*.client_secret",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "jwt",
  "*.jwt",
  "secret_id",
  "*.secret_id",
  "access_key_secret",
  "*.access_key_secret",
];

export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "scopegate" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: isoTimeOncePerMs,
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * pino's isoTime, built once per millisecond from a date prefix formatted once per second: under load many
 * decision lines share a millisecond, and `new Date().toISOString()` per line was 2 % of a cached check's CPU
 * samples (and, at 1,000 checks per second, still 1.4 µs per check in place). Same output.
 */
let lastMs = Number.NaN;
let lastIso = "";
let lastSecond = Number.NaN;
let secondPrefix = "";
export function isoTimeOncePerMs(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    const second = Math.floor(now / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      // `,"time":"2026-12-02T20:24:55.` — everything up to the milliseconds.
      secondPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
    }
    const ms = now - second * 1000;
    lastIso = `${secondPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z"`;
  }
  return lastIso;
}

/** Log lines are written once this many bytes are waiting, or within LOG_FLUSH_MS of being logged. */
export const LOG_BUFFER_BYTES = 3072;
export const LOG_FLUSH_MS = 100;
/**
 * Linux's PIPE_BUF: a write of at most this many bytes to a pipe is atomic. Several processes share the
 * container's stdout (the primary and its workers): each write holds whole lines and stays within this, so
 * lines from different processes never interleave mid-line (a single line longer than this is written alone).
 */
export const ATOMIC_WRITE_BYTES = 4096;

const SLAB_BATCHES = 16;

/** Where batches go: sonic-boom (pino.destination) in synchronous buffer mode (lineSink), or anything with these two calls. */
export interface LineSink {
  /** A batch of whole lines; the sink may keep the buffer (it is never written to again). */
  write(chunk: Buffer): unknown;
  flushSync(): void;
}

/**
 * Gathers whole log lines as UTF-8 bytes in one buffer and hands it to the sink, one write per batch: a batch is
 * written once it holds LOG_BUFFER_BYTES, before it would pass ATOMIC_WRITE_BYTES, and at the latest by a
 * LOG_FLUSH_MS timer. pino's lines come as strings (write); the decision log encodes its line straight into the
 * buffer (reserve/commit, decision-log.ts), so the one line per check builds no string.
 *
 * Why not sonic-boom's own minLength buffering: it appends each line to one growing string and measures that
 * string's byte length on every write, which flattens it — about 1.4 KB of garbage per 250-byte decision line
 * at a 3 KB buffer (the bench's "decision log line" stage). Keeping the lines as strings in an array and joining
 * them once per batch still left ~1.2 KB per line (the line, its flattening, the join); bytes leave almost none.
 */
export class LineBatch implements DestinationStream {
  readonly #sink: LineSink;
  /** Batches are cut from a slab, as Node's own Buffer pool does: one memory allocation per SLAB_BATCHES batches. */
  #slab = Buffer.allocUnsafeSlow(SLAB_BATCHES * ATOMIC_WRITE_BYTES);
  #slabUsed = 0;
  #buf = this.#nextBuffer();
  #used = 0;
  readonly #flushMs: number;
  /** Armed by the first line of a batch, never while nothing waits: an idle process is not woken up for logs. */
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(sink: LineSink, flushMs = LOG_FLUSH_MS) {
    this.#sink = sink;
    this.#flushMs = flushMs;
  }

  /** One whole line (pino's destination interface). */
  write(line: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit: a line that surely fits is encoded without measuring it first.
    if (line.length * 3 > ATOMIC_WRITE_BYTES - this.#used) {
      const bytes = Buffer.byteLength(line);
      if (bytes > ATOMIC_WRITE_BYTES) {
        // Longer than an atomic write: alone, after what is gathered.
        this.flush();
        this.#sink.write(Buffer.from(line, "utf8"));
        return;
      }
      if (this.#used + bytes > ATOMIC_WRITE_BYTES) this.flush();
    }
    this.commit(this.#used + this.#buf.write(line, this.#used, "utf8"));
  }

  /**
   * Room for a line of at most `maxBytes`, flushing first if it would not fit: the offset in `buffer` (read it after
   * this call) to encode the line from, then commit(end). -1 when no batch could hold it (more than
   * ATOMIC_WRITE_BYTES): write it as a string instead.
   */
  reserve(maxBytes: number): number {
    if (maxBytes > ATOMIC_WRITE_BYTES) return -1;
    if (this.#used + maxBytes > ATOMIC_WRITE_BYTES) this.flush();
    return this.#used;
  }

  /** The current batch's buffer (a new one after each flush). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** The reserved line ends at `end` (exclusive). */
  commit(end: number): void {
    this.#used = end;
    if (end >= LOG_BUFFER_BYTES || this.#closed) this.flush();
    else if (this.#timer === undefined && end > 0) {
      // At most one timer per LOG_FLUSH_MS: a batch written by size before it fires leaves it to fire once for nothing.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#flushMs);
      this.#timer.unref();
    }
  }

  /** Hands what is gathered to the sink (which writes it at once: it is synchronous); the next batch gets a new buffer. */
  flush(): void {
    if (this.#used === 0) return;
    const chunk = this.#buf.subarray(0, this.#used);
    this.#buf = this.#nextBuffer();
    this.#used = 0;
    this.#sink.write(chunk);
  }

  /** A fresh batch buffer: the sink may keep a written one, so none is ever reused. */
  #nextBuffer(): Buffer {
    if (this.#slabUsed === this.#slab.length) {
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BATCHES * ATOMIC_WRITE_BYTES);
      this.#slabUsed = 0;
    }
    const buf = this.#slab.subarray(this.#slabUsed, this.#slabUsed + ATOMIC_WRITE_BYTES);
    this.#slabUsed += ATOMIC_WRITE_BYTES;
    return buf;
  }

  /** Everything gathered is written before this returns: call it before process.exit. */
  flushSync(): void {
    this.flush();
    this.#sink.flushSync();
  }

  /** Stops the timer (the gathered lines are written first); lines written after this are written at once. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flushSync();
  }
}

/**
 * A synchronous sonic-boom in buffer mode (what LineBatch writes to): `dest` a file descriptor or path. It does
 * the writing: partial writes, EAGAIN on a non-blocking pipe, flushSync.
 */
export function lineSink(dest: number | string): LineSink {
  return pino.destination({ dest, sync: true, maxWrite: ATOMIC_WRITE_BYTES, contentMode: "buffer" }) as unknown as LineSink;
}

/**
 * stdout for a server that may log a line per check (logging.decisions: all): lines are gathered and written together (LineBatch), each
 * batch with a plain write(2) from the event loop, as pino's default destination does.
 *
 * Why not sonic-boom's asynchronous mode: every asynchronous write is a round trip through libuv's thread pool,
 * and under load those hand-offs (futex calls, wake-ups) cost more CPU than formatting the lines; with batched
 * synchronous writes, decision lines on cost about what pino's JSON costs (a one-off strace -c -f comparison is
 * in the commit that made the change). The price of a synchronous write: if the reader of stdout stops reading (a full
 * pipe), checks wait for it. Container runtimes read stdout continuously; the default `logging.decisions:
 * denials` keeps the volume small. Call flushSync() before process.exit so the last lines are not lost.
 */
export function bufferedStdout(): LineBatch {
  return new LineBatch(lineSink(1));
}
