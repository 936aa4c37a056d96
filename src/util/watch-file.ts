/**
 * Watches a file that Kubernetes mounts (ConfigMap, Secret): the file is a symlink into a `..data` directory
 * that is swapped atomically, so inotify on the file itself goes stale. We poll (realpath, mtime, size, inode),
 * optionally also watch the directory for a quicker reaction, and report each changed file once loaded: valid
 * or with its problems. The first look records the file in use (loaded at start) and reports nothing.
 */
import { watch, type FSWatcher } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname } from "node:path";

export interface FileWatcher {
  close(): void;
  /** The first look has recorded the file in use. */
  readonly ready: Promise<void>;
}

export interface WatchFileOptions<T> {
  readonly pollIntervalMs: number;
  /** Also watch the directory (fs.watch), not only poll. */
  readonly watchDirectory?: boolean;
  load(path: string): Promise<T>;
  /** The problems of a file `load` refused. */
  problemsOf(err: unknown): readonly string[];
  onValid(value: T): void;
  onInvalid(problems: readonly string[]): void;
}

export function watchFile<T>(path: string, opts: WatchFileOptions<T>): FileWatcher {
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
      if (first) return;
      try {
        const value = await opts.load(path);
        if (!closed) opts.onValid(value);
      } catch (err) {
        if (!closed) opts.onInvalid(opts.problemsOf(err));
      }
    } finally {
      running = false;
    }
  };
  const ready = check();
  const timer = setInterval(() => void check(), opts.pollIntervalMs);
  timer.unref();
  let watcher: FSWatcher | undefined;
  if (opts.watchDirectory) {
    try {
      watcher = watch(dirname(path), { persistent: false }, () => void check());
    } catch {
      watcher = undefined; // polling alone still works
    }
  }
  return {
    ready,
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
