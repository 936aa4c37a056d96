// A grpc-js Check client for what ghz cannot tell us: whether an answer is an allow (status 0 + ok_response)
// rather than a fast denial, and the latency of single cold requests and of a concurrent burst.
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";

const CHECK = "/envoy.service.auth.v3.Authorization/Check";
const identity = (b: Buffer): Buffer => b;

export interface CheckAnswer {
  readonly allowed: boolean;
  /** The deny reason (x-scopegate-reason header / status message) when not allowed. */
  readonly reason: string;
  readonly ms: number;
  /** The response as sent, e.g. to serve the very same bytes from the trivial server. */
  readonly raw: Buffer;
}

export class CheckClient {
  readonly #client: Client;
  constructor(target: string) {
    // One HTTP/2 connection of its own (grpc-js otherwise shares one between channels to the same target), as
    // Envoy keeps one per worker thread; no client-side retries.
    this.#client = new Client(target, credentials.createInsecure(), { "grpc.enable_retries": 0, "grpc.use_local_subchannel_pool": 1 });
  }

  check(request: Buffer, timeoutMs = 10_000): Promise<CheckAnswer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest<Buffer, Buffer>(
        CHECK,
        identity,
        identity,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, bytes) => {
          const ms = performance.now() - started;
          if (err || !bytes) return reject(err ?? new Error("empty Check response"));
          const r = CheckResponse.decode(bytes);
          const allowed = r.status?.code === 0 && r.httpResponse?.$case === "okResponse";
          resolve({ allowed, reason: allowed ? "" : (r.status?.message ?? "?"), ms, raw: bytes });
        },
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** Sends each request once and fails loudly on a denial: a benchmark of fast denials would measure nothing. */
export async function expectAllAllowed(target: string, requests: readonly Buffer[], what: string): Promise<void> {
  const client = new CheckClient(target);
  try {
    for (const r of requests) {
      const a = await client.check(r);
      if (!a.allowed) throw new Error(`${what}: a benchmark request was denied (${a.reason}); refusing to measure denials`);
    }
  } finally {
    client.close();
  }
}
