/**
 * The decision log: one line per denial (config logging.decisions, default "denials"), or per check ("all"), built
 * from codes and ids only, never request headers or tokens. Allows and logins are recorded by the proxy: their
 * answers carry an audit record for its access log (authz/audit.ts). The composition root wires it to the Check
 * server; the bench's stage costs time this same function.
 *
 * The line is written straight to the logger's destination, in the logger's own format: the level number,
 * the time, the logger's bindings (`service`, a cluster worker's `worker`), the fields, `msg`. This is the one
 * line per request, and pino's generic path (a walk over the object, serialiser and type checks per value,
 * hooks) was several times the cost of building the string (bench stage "decision log line"). Everything else
 * goes through pino. test/unit/decision-log.test.ts checks the lines against pino's own for the logger
 * createLogger builds, on random outcomes.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { CheckOutcome } from "../authz/authorizer.js";
import { DENY_REASONS } from "../authz/deny-reasons.js";
import { LineBatch } from "./logger.js";

export type DecisionLog = (outcome: CheckOutcome, durationMs: number) => void;

/** `which`: "all" logs every check; "denials" only denials: allows and logins are left to the proxy's access log (config logging.decisions). */
export function decisionLogger(parent: Logger, which: "all" | "denials"): DecisionLog {
  // pino.symbols exposes a logger's non-public state "for performant integration" (pino's docs/api.md, pino.symbols);
  // pino is pinned, and test/unit/decision-log.test.ts fails if what is read here stops matching pino's own lines.
  const internals = parent as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as DestinationStream;
  const time = internals[pino.symbols.timeSym] as () => string;
  const bindings = (internals[pino.symbols.chindingsSym] as string | undefined) ?? "";
  const levels = parent.levels.values;
  const encoder = stream instanceof LineBatch ? new LineEncoder(stream, bindings) : undefined;
  return (o, durationMs) => {
    if (which === "denials" && o.decision !== "deny") return;
    const level = o.reason ? DENY_REASONS[o.reason].level : "info";
    if (!parent.isLevelEnabled(level)) return;
    if (encoder?.write(levels[level]!, time(), o, durationMs)) return;
    stream.write(decisionLine(levels[level]!, time(), bindings, o, durationMs));
  };
}

/** The line as a string. Field order and omissions as pino writes them: undefined fields are left out. */
function decisionLine(level: number, time: string, bindings: string, o: CheckOutcome, durationMs: number): string {
  return `{"level":${level}${time}${bindings}${o.tenant === undefined ? "" : `,"tenant":${JSON.stringify(o.tenant)}`},"decision":"${o.decision}"${
    o.reason === undefined ? "" : `,"reason":"${o.reason}"`
  }${o.tokenCache === undefined ? "" : `,"tokenCache":"${o.tokenCache}"`}${o.mtls === undefined ? "" : `,"mtls":${o.mtls}`},"durationMs":${jsonNumber(roundMs(durationMs))},"requestId":${JSON.stringify(o.requestId)},"msg":"check"}\n`;
}

/**
 * The same line encoded straight into the batch's buffer: constants copied from bytes encoded once, the time and
 * ids copied character by character when they are printable ASCII without a quote or backslash (JSON needs no
 * escape for them; otherwise JSON.stringify and a UTF-8 write), the duration written as digits. No string is
 * built, so a logged check leaves next to no garbage (the bench's "decision log line" stage).
 */
class LineEncoder {
  readonly #batch: LineBatch;
  readonly #bindings: Buffer;
  /** Encoded pieces by their text (a bounded set: levels, decisions, reasons, cache results, booleans). */
  readonly #pieces = new Map<string, Buffer>();

  constructor(batch: LineBatch, bindings: string) {
    this.#batch = batch;
    this.#bindings = Buffer.from(bindings, "utf8");
  }

  /** False when the line is not written here (too long for a batch): the caller writes it as a string. */
  write(level: number, time: string, o: CheckOutcome, durationMs: number): boolean {
    const tenant = o.tenant;
    // Each UTF-16 unit becomes at most 6 bytes in a JSON string (\u001f), and ~160 bytes of constants and digits.
    const max = 256 + this.#bindings.length + 3 * time.length + 6 * ((tenant?.length ?? 0) + o.requestId.length);
    const offset = this.#batch.reserve(max);
    if (offset < 0) return false;
    const b = this.#batch.buffer;
    let at = this.#piece(b, offset, LEVEL_KEYS[level] ?? `{"level":${level}`);
    at = ascii(b, at, time);
    if (at < 0) return false;
    b.set(this.#bindings, at);
    at += this.#bindings.length;
    if (tenant !== undefined) at = jsonString(b, this.#piece(b, at, ',"tenant":'), tenant);
    at = this.#piece(b, at, DECISIONS[o.decision]);
    if (o.reason !== undefined) at = this.#piece(b, at, `,"reason":"${o.reason}"`);
    if (o.tokenCache !== undefined) at = this.#piece(b, at, o.tokenCache === "hit" ? ',"tokenCache":"hit"' : ',"tokenCache":"miss"');
    if (o.mtls !== undefined) at = this.#piece(b, at, o.mtls ? ',"mtls":true' : ',"mtls":false');
    at = milliseconds(b, this.#piece(b, at, ',"durationMs":'), durationMs);
    at = jsonString(b, this.#piece(b, at, ',"requestId":'), o.requestId);
    at = this.#piece(b, at, ',"msg":"check"}\n');
    this.#batch.commit(at);
    return true;
  }

  #piece(b: Buffer, at: number, text: string): number {
    let bytes = this.#pieces.get(text);
    if (bytes === undefined) this.#pieces.set(text, (bytes = Buffer.from(text, "utf8")));
    b.set(bytes, at);
    return at + bytes.length;
  }
}

const LEVEL_KEYS: Record<number, string> = { 10: '{"level":10', 20: '{"level":20', 30: '{"level":30', 40: '{"level":40', 50: '{"level":50', 60: '{"level":60' };
const DECISIONS: Record<CheckOutcome["decision"], string> = { allow: ',"decision":"allow"', deny: ',"decision":"deny"', login: ',"decision":"login"' };

/** Copies a string of printable ASCII (the time) as it is; -1 if it has anything else. */
function ascii(b: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return -1;
    b[at + i] = c;
  }
  return at + s.length;
}

/** A JSON string: quoted as it is when it needs no escape and is ASCII, else as JSON.stringify writes it. */
function jsonString(b: Buffer, at: number, s: string): number {
  b[at] = 0x22;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break;
    b[at + 1 + i] = c;
  }
  if (i === s.length) {
    b[at + 1 + i] = 0x22;
    return at + 2 + i;
  }
  return at + b.write(JSON.stringify(s), at, "utf8");
}

/**
 * What JSON.stringify(roundMs(ms)) writes: whole microseconds as `<ms>[.<fraction without trailing zeros>]`, which
 * is how JavaScript prints the double nearest to that decimal while doubles are much finer than 0.001 (below
 * 10^9 ms, about 11 days); `null` when not finite. Other values (negative, longer) go through the number's own
 * printing.
 */
function milliseconds(b: Buffer, at: number, ms: number): number {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us <= 1e12)) return at + b.write(jsonNumber(roundMs(ms)), at, "latin1");
  const whole = Math.floor(us / 1000);
  let fraction = us - whole * 1000;
  at = digits(b, at, whole);
  if (fraction === 0) return at;
  b[at++] = 0x2e;
  let width = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    width--;
  }
  for (let i = width - 1; i >= 0; i--) {
    b[at + i] = 0x30 + (fraction % 10);
    fraction = Math.floor(fraction / 10);
  }
  return at + width;
}

/** A non-negative integer in decimal. */
function digits(b: Buffer, at: number, n: number): number {
  let len = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) len++;
  for (let i = len - 1; i >= 0; i--) {
    b[at + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + len;
}

/** A number as JSON.stringify writes it: `null` unless finite (a finite duration can round to Infinity). */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/** Milliseconds to microsecond precision, for log lines. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
