// Starts the native ext_authz floor (scripts/bench/native-authz, grpc-go with the go-control-plane types), built by
// scripts/install-tools.sh into .tools/bin only when SCOPEGATE_BENCH_TOOLS=1. When the binary is missing or was
// built from other source than the checked-out one, the native rows are skipped with the reason instead.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../test/support/tools.js";
import { startChild, waitForLine } from "./child.js";
import type { TrivialServer } from "./trivial-process.js";

export const NATIVE_PATH = goProgramPath("native-authz");
const BUILD_HINT = "SCOPEGATE_BENCH_TOOLS=1 npm run tools";

/** .tools/bin/<name>: the build of scripts/bench/<name> (install-tools.sh, install_go_bench_program). */
export function goProgramPath(name: string): string {
  return join(repoRoot, ".tools/bin", name);
}

/** Why scripts/bench/<name> cannot run, or undefined when its build matches the source (install-tools' stamp). */
export function goProgramUnavailable(name: string): string | undefined {
  const bin = goProgramPath(name);
  if (!existsSync(bin)) return `${name} is not built (.tools/bin/${name} is missing; ${BUILD_HINT} builds it)`;
  const stampFile = `${bin}.sha256`;
  const hash = createHash("sha256");
  for (const f of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(repoRoot, "scripts/bench", name, f)));
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, "utf8").trim() : "";
  return stamp === hash.digest("hex") ? undefined : `.tools/bin/${name} was built from other source than scripts/bench/${name} (${BUILD_HINT} rebuilds it)`;
}

/** Why the native server cannot run, or undefined when the built binary matches the source. */
export function nativeUnavailable(): string | undefined {
  const why = goProgramUnavailable("native-authz");
  return why && `the native ext_authz server: ${why}`;
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
