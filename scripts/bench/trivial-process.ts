// Starts scripts/bench/trivial-server.ts in its own Node 24 process (type stripping, no loader).
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild, waitForLine, type Child } from "./child.js";

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
 * `opts`: another name (socket file) for a second instance, node flags and environment (the tail phase's probe).
 */
export async function startTrivial(
  dir: string,
  response: Buffer,
  opts: { name?: string; nodeFlags?: readonly string[]; env?: Readonly<Record<string, string>> } = {},
): Promise<TrivialServer> {
  const name = opts.name ?? "trivial";
  const unixSocket = join(dir, `${name}.sock`);
  const args = [...(opts.nodeFlags ?? []), join(repoRoot, "scripts/bench/trivial-server.ts"), "--tcp", "127.0.0.1:0", "--uds", unixSocket, "--response", response.toString("base64")];
  const child = startChild(name === "trivial" ? "trivial-server" : name, process.execPath, args, { cwd: repoRoot, stdout: "tail", ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  const port = (await waitForLine(child, /ready tcp=(\d+)/, 15_000))[1];
  return {
    child,
    tcpTarget: `127.0.0.1:${port}`,
    udsTarget: `unix://${unixSocket}`,
    unixSocket,
    command: `node ${(opts.nodeFlags ?? []).map((f) => `${f.replace(repoRoot.replace(/\/?$/, "/"), "")} `).join("")}scripts/bench/trivial-server.ts --tcp 127.0.0.1:0 --uds $BENCH_DIR/${name}.sock --response <${response.length} bytes>`,
    stop: () => child.stop(5_000),
  };
}
