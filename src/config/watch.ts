/**
 * Watches the config file the way Kubernetes updates a mounted ConfigMap (util/watch-file.ts: the directory is
 * watched and polled) and reports each changed, fully parsed result.
 */
import { watchFile, type FileWatcher } from "../util/watch-file.js";
import { loadConfigFile } from "./load.js";
import type { Config } from "./schema.js";

export type ConfigWatcher = FileWatcher;

export function watchConfigFile(
  path: string,
  opts: { pollIntervalMs: number; onValid: (config: Config) => void; onInvalid: (problems: readonly string[]) => void },
): ConfigWatcher {
  return watchFile(path, {
    ...opts,
    watchDirectory: true,
    load: loadConfigFile,
    problemsOf: (err) => (err as { problems?: readonly string[] }).problems ?? [(err as Error).message],
  });
}
