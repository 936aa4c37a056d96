// Starts scripts/bench/trivial-server.ts in its own Node 24 process (type stripping, no loader).
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild, waitForLine, type Child } from "./child.js";
import { TENANT_HEADER } from "./check-requests.js";
import { CheckClient, expectAllAllowed } from "./grpc-client.js";

export interface TrivialServer {
  readonly child: Child;
  readonly tcpTarget: string;
  readonly udsTarget: string;
  readonly unixSocket: string;
  readonly command: string;
  stop(): Promise<void>;
}

/**
 * `response`: the exact bytes scopegate answered for a hot request, so both servers send the same message.
 * `opts`: another name (socket file) for a second instance, node flags and environment (the tail phase's probe);
 * `reader`: a floor that reads every request — "generated": the grpc-js decode floor (the generated decoder,
 * trivial-server.ts --decode); "wire": the wire-reader floor (scopegate's own reader, --read-wire with the bench's
 * tenant header); `burnUs`: spin that long on the clock in every check (--burn-us; the A/B phase's trivial+burn
 * subject and the envoy phase's equal-CPU server).
 */
export async function startTrivial(
  dir: string,
  response: Buffer,
  opts: { name?: string; nodeFlags?: readonly string[]; env?: Readonly<Record<string, string>>; reader?: "generated" | "wire"; burnUs?: number } = {},
): Promise<TrivialServer> {
  const name = opts.name ?? "trivial";
  const unixSocket = join(dir, `${name}.sock`);
  const serverArgs = [
    ...(opts.reader === "generated" ? ["--decode"] : opts.reader === "wire" ? ["--read-wire", TENANT_HEADER] : []),
    ...(opts.burnUs ? ["--burn-us", String(opts.burnUs)] : []),
  ];
  const args = [...(opts.nodeFlags ?? []), join(repoRoot, "scripts/bench/trivial-server.ts"), "--tcp", "127.0.0.1:0", "--uds", unixSocket, "--response", response.toString("base64"), ...serverArgs];
  const child = startChild(name === "trivial" ? "trivial-server" : name, process.execPath, args, { cwd: repoRoot, stdout: "tail", ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  const port = (await waitForLine(child, /ready tcp=(\d+)/, 15_000))[1];
  return {
    child,
    tcpTarget: `127.0.0.1:${port}`,
    udsTarget: `unix://${unixSocket}`,
    unixSocket,
    command: `node ${(opts.nodeFlags ?? []).map((f) => `${f.replace(repoRoot.replace(/\/?$/, "/"), "")} `).join("")}scripts/bench/trivial-server.ts --tcp 127.0.0.1:0 --uds $BENCH_DIR/${name}.sock --response <${response.length} bytes>${serverArgs.length > 0 ? ` ${serverArgs.join(" ")}` : ""}`,
    stop: () => child.stop(5_000),
  };
}

/**
 * Before a reading floor is measured: every benchmark request gets its allow, and bytes that are no CheckRequest
 * (wire type 7, which protobuf does not have) get a gRPC error instead of the answer — so the floor's rows are
 * known to have read what they were sent.
 */
export async function expectDecoding(target: string, requests: readonly Buffer[], name = "grpc-js decode floor"): Promise<void> {
  await expectAllAllowed(target, requests, name);
  const client = new CheckClient(target);
  try {
    const answered = await client.check(Buffer.from([0x0f]), 5_000).then(
      () => true,
      () => false,
    );
    if (answered) throw new Error(`${name}: answered bytes that are no CheckRequest; it does not read its requests`);
  } finally {
    client.close();
  }
}
