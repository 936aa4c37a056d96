/**
 * Watches the config file the way Kubernetes updates a mounted ConfigMap: the file is a symlink into a
 * `..data` directory that is swapped atomically, so inotify on the file itself goes stale. We watch the
 * directory and also poll (realpath, mtime, size), and report each changed, fully parsed result.
 */
import { watch, type FSWatcher } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { loadConfigFile } from "./load.js";
import type { Config } from "./schema.js";

export interface ConfigWatcher {
  close(): void;
}

export function watchConfigFile(
  path: string,
  opts: { pollIntervalMs: number; onValid: (config: Config) => void; onInvalid: (problems: readonly string[]) => void },
): ConfigWatcher {
  let last = "";
  let running = false;
  let closed = false;
  const check = async (): Promise<void> => {
    if (running || closed) return;
    running = true;
    try {
      const fingerprint = await fingerprintOf(path);
      if (fingerprint === last) return;
      const first = last === "";
      last = fingerprint;
      if (first) return; // the config in use was loaded at start
      try {
        opts.onValid(await loadConfigFile(path));
      } catch (err) {
        opts.onInvalid((err as { problems?: readonly string[] }).problems ?? [(err as Error).message]);
      }
    } finally {
      running = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), opts.pollIntervalMs);
  timer.unref();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, () => void check());
  } catch {
    watcher = undefined; // polling alone still works
  }
  return {
    close() {
      closed = true;
      clearInterval(timer);
      watcher?.close();
    },
  };
}

export async function fingerprintOf(path: string): Promise<string> {
  try {
    const real = await realpath(path);
    const s = await stat(real);
    return `${real}:${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? "?"}`;
  }
}
