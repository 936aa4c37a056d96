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

/** `response`: the exact bytes scopegate answered for a hot request, so both servers send the same message. */
export async function startTrivial(dir: string, response: Buffer): Promise<TrivialServer> {
  const unixSocket = join(dir, "trivial.sock");
  const args = [join(repoRoot, "scripts/bench/trivial-server.ts"), "--tcp", "127.0.0.1:0", "--uds", unixSocket, "--response", response.toString("base64")];
  const child = startChild("trivial-server", process.execPath, args, { cwd: repoRoot, stdout: "tail" });
  const port = (await waitForLine(child, /ready tcp=(\d+)/, 15_000))[1];
  return {
    child,
    tcpTarget: `127.0.0.1:${port}`,
    udsTarget: `unix://${unixSocket}`,
    unixSocket,
    command: `node scripts/bench/trivial-server.ts --tcp 127.0.0.1:0 --uds $BENCH_DIR/trivial.sock --response <${response.length} bytes>`,
    stop: () => child.stop(5_000),
  };
}
