/**
 * CheckRequest bytes -> CheckInput, reading the protobuf wire format directly and only the fields a decision
 * uses: the source principal, the HTTP method, path and stream id, the headers the policy names (the tenant
 * header, authorization and x-request-id) and, where Envoy sends one, the body (a gateway login's form). Every other field — addresses, the remaining headers, metadata, TLS details, body —
 * is skipped without being decoded, so a cached check allocates a handful of strings instead of an object
 * graph (the generated decoder was the hottest function under load). Pure.
 *
 * Field numbers are those of proto/envoy/service/auth/v3/attribute_context.proto; test/unit/check-request-wire
 * checks this reader against the generated decoder on random requests.
 */
import type { CheckInput } from "./check-input.js";
import { deny, type Denial } from "./deny-reasons.js";

/**
 * The header names a policy reads, lower-case, matched against header keys without decoding them. A name may come
 * with value prefixes (ASCII, matched without regard to case): its value is then decoded only when it starts with
 * one of them, e.g. authorization only for `Bearer sgw1.` (a gateway token) or `Basic ` (a login), so an SDK's
 * placeholder bearer costs no string on the hot path.
 */
export class HeaderPicker {
  readonly names: readonly string[];
  readonly #bytes: readonly Buffer[];
  readonly #valuePrefixes: readonly (readonly Buffer[] | undefined)[];

  constructor(names: readonly string[], valuePrefixes: Readonly<Record<string, readonly string[]>> = {}) {
    this.names = [...new Set(names.map((n) => n.toLowerCase()))];
    this.#bytes = this.names.map((n) => Buffer.from(n, "latin1"));
    this.#valuePrefixes = this.names.map((n) => valuePrefixes[n]?.map((p) => Buffer.from(p.toLowerCase(), "latin1")));
  }

  /** Whether the value buf[start, end) of picked name `n` is wanted (no prefixes for the name: always). */
  wants(n: number, buf: Uint8Array, start: number, end: number): boolean {
    const prefixes = this.#valuePrefixes[n];
    if (prefixes === undefined) return true;
    for (const p of prefixes) if (startsWithIgnoringCase(buf, start, end, p)) return true;
    return false;
  }

  /** Index of the name equal to buf[start, end) ignoring ASCII case, or -1. */
  indexOf(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    for (let n = 0; n < this.#bytes.length; n++) {
      const want = this.#bytes[n]!;
      if (want.length !== len) continue;
      let i = 0;
      for (; i < len; i++) {
        let b = buf[start + i]!;
        if (b >= 0x41 && b <= 0x5a) b |= 0x20;
        if (b !== want[i]) break;
      }
      if (i === len) return n;
    }
    return -1;
  }
}

function startsWithIgnoringCase(buf: Uint8Array, start: number, end: number, lowerPrefix: Buffer): boolean {
  if (end - start < lowerPrefix.length) return false;
  for (let i = 0; i < lowerPrefix.length; i++) {
    let b = buf[start + i]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lowerPrefix[i]) return false;
  }
  return true;
}

const LEN = 2;
const MALFORMED_INPUT = deny("malformed_request");

/** What a request carried, gathered while walking the bytes (repeated message fields merge, as protobuf says). */
interface Gathered {
  principal: string;
  /** HttpRequest.id's bytes [idStart, idEnd): decoded only when the request has no x-request-id. */
  idStart: number;
  idEnd: number;
  method: string;
  path: string;
  host: string;
  hasHttp: boolean;
  /** HttpRequest.body (11) or raw_body (12), as a view of the request bytes: present only where Envoy sends a body. */
  body: Buffer | undefined;
  /** Per picked name: undefined until seen; repeated occurrences are joined with ',' as Envoy joins them. */
  readonly picked: (string | undefined)[];
}

export function readCheckRequest(bytes: Uint8Array, picker: HeaderPicker): CheckInput | Denial {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const g: Gathered = { principal: "", idStart: 0, idEnd: 0, method: "", path: "", host: "", hasHttp: false, body: undefined, picked: new Array(picker.names.length) };
  let hasAttributes = false;
  try {
    const r = new Cursor(buf);
    const end = buf.length;
    while (r.pos < end) {
      const tag = r.varint(end);
      if (tag === ((1 << 3) | LEN)) {
        hasAttributes = true;
        attributeContext(r, r.enter(end), g, picker);
      } else r.skip(tag, end);
    }
  } catch {
    return MALFORMED_INPUT;
  }
  if (!hasAttributes || !g.hasHttp || g.method === "" || g.path === "") return MALFORMED_INPUT;
  const headers = new Map<string, string>();
  for (let n = 0; n < picker.names.length; n++) {
    const v = g.picked[n];
    if (v !== undefined) headers.set(picker.names[n]!, v);
  }
  const path = g.path;
  const q = path.indexOf("?");
  const hash = path.indexOf("#");
  const stop = hash === -1 ? path.length : hash;
  const noQuery = q === -1 || q > stop;
  return {
    // HttpRequest.id is Envoy's internal stream id in practice, not x-request-id: prefer the header.
    requestId: headers.get("x-request-id") || buf.toString("utf8", g.idStart, g.idEnd),
    method: g.method,
    path: noQuery ? path.slice(0, stop) : path.slice(0, q),
    rawQuery: noQuery ? "" : path.slice(q + 1, stop),
    host: hostWithoutPort(g.host),
    headers,
    sourcePrincipal: g.principal,
    ...(g.body === undefined ? {} : { body: g.body }),
  };
}

/** The methods Envoy sends as they are (upper case), as constants: no string is decoded for them. */
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].map((m) => ({ name: m, bytes: Buffer.from(m, "latin1") }));

/** HttpRequest.method, upper case: a constant for the usual methods, else decoded and upper-cased. */
function methodName(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  for (const m of METHODS) {
    if (m.bytes.length !== len) continue;
    let i = 0;
    while (i < len && buf[start + i] === m.bytes[i]) i++;
    if (i === len) return m.name;
  }
  return buf.toString("utf8", start, end).toUpperCase();
}

/** "API.example.com:443" -> "api.example.com"; "[::1]:80" -> "[::1]". */
function hostWithoutPort(host: string): string {
  const h = host.toLowerCase();
  const colon = h.lastIndexOf(":");
  return colon !== -1 && colon > h.lastIndexOf("]") ? h.slice(0, colon) : h;
}

// Each reader below consumes one message: the bytes from the cursor's position up to `end`.

/** AttributeContext: source = 1 (Peer), request = 4 (Request). */
function attributeContext(r: Cursor, end: number, g: Gathered, picker: HeaderPicker): void {
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === ((1 << 3) | LEN)) peer(r, r.enter(end), g);
    else if (tag === ((4 << 3) | LEN)) request(r, r.enter(end), g, picker);
    else r.skip(tag, end);
  }
}

/** Peer: principal = 4. */
function peer(r: Cursor, end: number, g: Gathered): void {
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === ((4 << 3) | LEN)) g.principal = r.string(end);
    else r.skip(tag, end);
  }
}

/** Request: http = 2 (HttpRequest). */
function request(r: Cursor, end: number, g: Gathered, picker: HeaderPicker): void {
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === ((2 << 3) | LEN)) {
      g.hasHttp = true;
      httpRequest(r, r.enter(end), g, picker);
    } else r.skip(tag, end);
  }
}

/**
 * HttpRequest: id = 1, method = 2, headers = 3 (map entries), path = 4, host = 5, body = 11 (string), raw_body = 12
 * (bytes, with pack_as_bytes), header_map = 13 (HeaderMap). Envoy sends a body only on a route that asks for one
 * (the shipped configs' `login` route, at most 4096 bytes): it is kept as a view of the bytes, not decoded here.
 */
function httpRequest(r: Cursor, end: number, g: Gathered, picker: HeaderPicker): void {
  while (r.pos < end) {
    const tag = r.varint(end);
    switch (tag) {
      case (1 << 3) | LEN:
        g.idStart = r.payload(end);
        g.idEnd = r.pos;
        break;
      case (2 << 3) | LEN: {
        const start = r.payload(end);
        g.method = methodName(r.buf, start, r.pos);
        break;
      }
      case (3 << 3) | LEN:
        headerEntry(r, r.enter(end), g, picker, false);
        break;
      case (4 << 3) | LEN:
        g.path = r.string(end);
        break;
      case (5 << 3) | LEN:
        g.host = r.string(end);
        break;
      case (11 << 3) | LEN:
      case (12 << 3) | LEN: {
        const start = r.payload(end);
        if (r.pos > start) g.body = r.buf.subarray(start, r.pos);
        break;
      }
      case (13 << 3) | LEN:
        headerMap(r, r.enter(end), g, picker);
        break;
      default:
        r.skip(tag, end);
    }
  }
}

/** HeaderMap: headers = 1 (HeaderValue). */
function headerMap(r: Cursor, end: number, g: Gathered, picker: HeaderPicker): void {
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === ((1 << 3) | LEN)) headerEntry(r, r.enter(end), g, picker, true);
    else r.skip(tag, end);
  }
}

/**
 * A map<string,string> entry (key = 1, value = 2) or a HeaderValue (key = 1, value = 2, raw_value = 3, which
 * wins when non-empty: Envoy's encode_raw_headers). Only a picked key's value is decoded.
 */
function headerEntry(r: Cursor, end: number, g: Gathered, picker: HeaderPicker, raw: boolean): void {
  let keyStart = 0;
  let keyEnd = 0;
  let valueStart = 0;
  let valueEnd = 0;
  let rawStart = 0;
  let rawEnd = 0;
  while (r.pos < end) {
    const tag = r.varint(end);
    // payload() returns where a field's bytes start and leaves the cursor where they end.
    if (tag === ((1 << 3) | LEN)) {
      keyStart = r.payload(end);
      keyEnd = r.pos;
    } else if (tag === ((2 << 3) | LEN)) {
      valueStart = r.payload(end);
      valueEnd = r.pos;
    } else if (raw && tag === ((3 << 3) | LEN)) {
      rawStart = r.payload(end);
      rawEnd = r.pos;
    } else r.skip(tag, end);
  }
  const n = picker.indexOf(r.buf, keyStart, keyEnd);
  if (n === -1) return;
  const useRaw = rawEnd > rawStart;
  if (!picker.wants(n, r.buf, useRaw ? rawStart : valueStart, useRaw ? rawEnd : valueEnd)) return;
  const value = useRaw ? r.buf.toString("utf8", rawStart, rawEnd) : r.buf.toString("utf8", valueStart, valueEnd);
  const prev = g.picked[n];
  g.picked[n] = prev === undefined ? value : `${prev},${value}`;
}

/**
 * A position in the request bytes. Every read is bounded by the end of the message being read (an `end`
 * argument), so a length that points past its enclosing message is refused, not followed. Throws on truncated
 * or invalid input; the caller turns that into malformed_request.
 */
class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint of up to 35 bits (tags, lengths); longer encodings are refused. One byte is the common case. */
  varint(end: number): number {
    if (this.pos >= end) throw new RangeError("truncated varint");
    const first = this.buf[this.pos++]!;
    if (first < 0x80) return first;
    let result = first & 0x7f;
    for (let shift = 7; shift < 35; shift += 7) {
      if (this.pos >= end) throw new RangeError("truncated varint");
      const b = this.buf[this.pos++]!;
      // Bit operators stay in 31 bits; the fifth byte is added arithmetically.
      result = shift < 28 ? result | ((b & 0x7f) << shift) : result + (b & 0x7f) * 0x10000000;
      if (b < 0x80) return result;
    }
    throw new RangeError("varint too long");
  }

  /** Reads a length-delimited field's length; the cursor is left at its payload, whose end is returned. */
  enter(end: number): number {
    const len = this.varint(end);
    if (len > end - this.pos) throw new RangeError("length past the end of its message");
    return this.pos + len;
  }

  /** Moves past a length-delimited field's payload and returns where it starts (it ends at the new position). */
  payload(end: number): number {
    const stop = this.enter(end);
    const start = this.pos;
    this.pos = stop;
    return start;
  }

  string(end: number): string {
    const start = this.payload(end);
    return this.buf.toString("utf8", start, this.pos);
  }

  /** Skips one field whose tag was just read. Groups (wire types 3/4) are not used by these messages: refused. */
  skip(tag: number, end: number): void {
    if (tag < 8) throw new RangeError("field number 0");
    switch (tag & 7) {
      case 0:
        for (;;) {
          if (this.pos >= end) throw new RangeError("truncated varint");
          if (this.buf[this.pos++]! < 0x80) return;
        }
      case 1:
        this.advance(8, end);
        return;
      case 2:
        this.payload(end);
        return;
      case 5:
        this.advance(4, end);
        return;
      default:
        throw new RangeError(`wire type ${tag & 7} not accepted`);
    }
  }

  private advance(n: number, end: number): void {
    if (n > end - this.pos) throw new RangeError("field past the end of its message");
    this.pos += n;
  }
}
