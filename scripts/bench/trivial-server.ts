// The ceiling for the Check benchmarks: a grpc-js server (same grpc-js, same server options as scopegate)
// that answers every envoy.service.auth.v3.Authorization/Check with one fixed, pre-encoded CheckResponse.
// The request bytes are not even decoded (identity deserialiser): what is left is the gRPC transport.
// With --decode, every request is decoded into a CheckRequest by the generated ts-proto code (dist/gen) before the
// same fixed answer: the grpc-js counterpart of the native grpc-go floor, which decodes every request as any Go
// ext_authz does — what a JavaScript ext_authz server pays to read its requests the usual way, and nothing else.
// With --read-wire <tenant header>, every request is read instead by scopegate's own reader (dist/authz: the fields a
// check uses, straight from the bytes, with the headers scopegate picks) before the same fixed answer: the wire-reader
// floor, what reading costs scopegate's way, so that what scopegate costs above it is its decision, count and log.
// With --burn-us <n>, every check spins on the clock for n µs before the same fixed answer: a server with a given CPU
// cost per check and nothing else (no heap, no timers, no I/O of its own), for telling what a tail owes to CPU per
// request alone (the A/B phase's `trivial+burn:<n>` subject).
//
// A process of its own, run by Node 24 directly (type stripping, no loader):
//   node scripts/bench/trivial-server.ts --response <base64 CheckResponse> [--tcp 127.0.0.1:0] [--uds <path>]
//     [--decode | --read-wire <tenant header>] [--burn-us <n>]
// Prints one line `ready tcp=<port>` once every listener is bound; exits on SIGTERM/SIGINT.
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { Server, ServerCredentials, type ChannelOptions, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";

const { values } = parseArgs({
  options: {
    response: { type: "string" },
    tcp: { type: "string" },
    uds: { type: "string" },
    decode: { type: "boolean", default: false },
    "read-wire": { type: "string" },
    "burn-us": { type: "string" },
  },
});
const burnUs = values["burn-us"] === undefined ? 0 : Number(values["burn-us"]);
if (!values.response || (!values.tcp && !values.uds) || (values.decode && values["read-wire"] !== undefined) || !Number.isInteger(burnUs) || burnUs < 0 || burnUs > 100_000) {
  process.stderr.write("usage: trivial-server.ts --response <base64> [--tcp host:port] [--uds path] [--decode | --read-wire <tenant header>] [--burn-us <0..100000>]\n");
  process.exit(2);
}
const response = Buffer.from(values.response, "base64");
const identity = (b: Buffer): Buffer => b;

// scopegate's own Check server options, from the build the bench measures (this file runs without a loader, and
// dist/ has no type declarations: hence the computed specifier and the cast).
const built = "../../dist/server/grpc-server.js";
const { CHECK_SERVER_OPTIONS } = (await import(built)) as { CHECK_SERVER_OPTIONS: ChannelOptions };
// --decode: the generated decoder from the same build (dist/gen), loaded only then; the decoded message is handed to
// the handler and dropped.
const generated = "../../dist/gen/envoy/service/auth/v3/external_auth.js";
// --read-wire: scopegate's reader and header picker from the same build, loaded only then.
const wire = "../../dist/authz/check-request-wire.js";
const authorizer = "../../dist/authz/authorizer.js";
const denials = "../../dist/authz/deny-reasons.js";
const tenantHeader = values["read-wire"];
const deserialize = values.decode ? await generatedDecoder() : tenantHeader !== undefined ? await wireReader(tenantHeader) : identity;
const burn = burnUs > 0 ? burner(burnUs) : undefined;
const server = new Server(CHECK_SERVER_OPTIONS);
server.addService(
  {
    Check: {
      path: "/envoy.service.auth.v3.Authorization/Check",
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: deserialize,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  {
    Check:
      burn === undefined
        ? (_call: ServerUnaryCall<unknown, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, response)
        : (_call: ServerUnaryCall<unknown, Buffer>, callback: sendUnaryData<Buffer>) => {
            burn();
            callback(null, response);
          },
  },
);

async function generatedDecoder(): Promise<(bytes: Buffer) => unknown> {
  const { CheckRequest } = (await import(generated)) as { CheckRequest: { decode(bytes: Uint8Array): unknown } };
  return (bytes) => CheckRequest.decode(bytes);
}

/** scopegate's reader; what it refuses (a denial: malformed_request) becomes a gRPC error, as a decoder's throw does. */
async function wireReader(header: string): Promise<(bytes: Buffer) => unknown> {
  const { readCheckRequest } = (await import(wire)) as { readCheckRequest(bytes: Uint8Array, picker: unknown): unknown };
  const { checkRequestPicker } = (await import(authorizer)) as { checkRequestPicker(header: string): unknown };
  const { isDenial } = (await import(denials)) as { isDenial(v: unknown): boolean };
  const picker = checkRequestPicker(header);
  return (bytes) => {
    const input = readCheckRequest(bytes, picker);
    if (isDenial(input)) throw new Error("not a CheckRequest scopegate can read");
    return input;
  };
}

/**
 * A spin on the clock. Not a fixed count of loop rounds: those cost whatever the JIT made of them at the moment
 * (unoptimised, five times as much here). Not the thread's CPU time either: getrusage moves in scheduler ticks on
 * this kernel (a 300 µs spin took 4 ms). The spin burns less CPU than `us` when the scheduler takes the core away
 * mid-spin; the A/B row reports the CPU per request it really came to.
 */
function burner(us: number): () => void {
  return () => {
    const until = performance.now() + us / 1000;
    while (performance.now() < until) {
      // spin
    }
  };
}

function bind(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

const port = values.tcp ? await bind(values.tcp) : 0;
if (values.uds) {
  rmSync(values.uds, { force: true });
  await bind(`unix:${values.uds}`);
}
process.stdout.write(`ready tcp=${port}\n`);

const stop = (): void => {
  server.tryShutdown(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
