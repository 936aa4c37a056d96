// Starts the native ext_authz floor (scripts/bench/native-authz, grpc-go with the go-control-plane types), built by
// scripts/install-tools.sh into .tools/bin only when SCOPEGATE_BENCH_TOOLS=1. When the binary is missing or was
// built from other source than the checked-out one, the native rows are skipped with the reason instead.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild, waitForLine } from "./child.js";
import type { TrivialServer } from "./trivial-process.js";

export const NATIVE_PATH = join(repoRoot, ".tools/bin/native-authz");
const SOURCE_DIR = join(repoRoot, "scripts/bench/native-authz");
const BUILD_HINT = "SCOPEGATE_BENCH_TOOLS=1 npm run tools";

/** Why the native server cannot run, or undefined when the built binary matches the source (install-tools' stamp). */
export function nativeUnavailable(): string | undefined {
  if (!existsSync(NATIVE_PATH)) return `the native ext_authz server is not built (.tools/bin/native-authz is missing; ${BUILD_HINT} builds it)`;
  const stampFile = `${NATIVE_PATH}.sha256`;
  const hash = createHash("sha256");
  for (const f of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(SOURCE_DIR, f)));
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, "utf8").trim() : "";
  return stamp === hash.digest("hex") ? undefined : `.tools/bin/native-authz was built from other source than scripts/bench/native-authz (${BUILD_HINT} rebuilds it)`;
}

/** `response`: the exact bytes scopegate answered for a hot request, the same the trivial grpc-js server sends. */
export async function startNative(dir: string, response: Buffer): Promise<TrivialServer & { readonly sameBytes: boolean }> {
  const unixSocket = join(dir, "native.sock");
  const args = ["--tcp", "127.0.0.1:0", "--uds", unixSocket, "--response", response.toString("base64")];
  const child = startChild("native-authz", NATIVE_PATH, args, { cwd: repoRoot, stdout: "tail" });
  const ready = await waitForLine(child, /ready tcp=(\d+) same-bytes=(true|false)/, 15_000);
  return {
    child,
    tcpTarget: `127.0.0.1:${ready[1]}`,
    udsTarget: `unix://${unixSocket}`,
    unixSocket,
    sameBytes: ready[2] === "true",
    command: `.tools/bin/native-authz --tcp 127.0.0.1:0 --uds $BENCH_DIR/native.sock --response <${response.length} bytes>`,
    stop: () => child.stop(5_000),
  };
}
