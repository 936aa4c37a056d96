/**
 * The TokenEndpoint port and its HTTP adapter (node:http/https with keep-alive agents). It sends a token request
 * a profile built and hands the answer to that profile's parser: the HTTP round trip knows no grant and no
 * vendor (src/profiles).
 * TLS verification is never disabled; a CA bundle may be added. Plain http is only ever configured for
 * loopback (config schema).
 */
import http from "node:http";
import https from "node:https";
import type { Profile, TokenRequest, TokenResult } from "../profiles/index.js";

/** A profile's response parser: (status, Retry-After, body) -> token or token error. Pure. */
export type TokenResponseParser = Profile["parseTokenResponse"];

export interface TokenEndpoint {
  requestToken(req: TokenRequest, parse: TokenResponseParser, signal: AbortSignal): Promise<TokenResult>;
}

const MAX_BODY_BYTES = 64 * 1024;

export class HttpTokenEndpoint implements TokenEndpoint {
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  readonly #httpsAgent: https.Agent;

  constructor(private readonly opts: { timeoutMs: number; caPem?: string | undefined }) {
    this.#httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ...(opts.caPem ? { ca: opts.caPem } : {}) });
  }

  requestToken(req: TokenRequest, parse: TokenResponseParser, signal: AbortSignal): Promise<TokenResult> {
    const isHttps = req.url.protocol === "https:";
    const lib = isHttps ? https : http;
    // The caller's signal or our own timeout, whichever comes first. Not AbortSignal.any + AbortSignal.timeout:
    // their timer and the request reachable from the combined signal stayed alive for the full timeout after
    // every answer; here both are released as soon as the request settles.
    const combined = new AbortController();
    const abort = (): void => combined.abort();
    const timer = setTimeout(abort, this.opts.timeoutMs).unref();
    signal.addEventListener("abort", abort, { once: true });
    return new Promise<TokenResult>((done) => {
      const resolve = (result: TokenResult): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
        done(result);
      };
      const unavailable = (): void => resolve({ kind: "error", error: { code: "unavailable" } });
      if (signal.aborted) return unavailable();
      const r = lib.request(
        req.url,
        {
          method: "POST",
          headers: { ...req.headers, "content-length": Buffer.byteLength(req.body) },
          agent: isHttps ? this.#httpsAgent : this.#httpAgent,
          signal: combined.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY_BYTES) {
              res.destroy();
              return;
            }
            chunks.push(c);
          });
          res.on("error", unavailable);
          res.on("close", unavailable); // no-op once resolved; covers a body cut off above MAX_BODY_BYTES
          res.on("end", () => {
            const retryAfter = res.headers["retry-after"];
            resolve(parse(res.statusCode ?? 0, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, Buffer.concat(chunks).toString("utf8")));
          });
        },
      );
      r.on("error", unavailable);
      r.end(req.body);
    });
  }

  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}
