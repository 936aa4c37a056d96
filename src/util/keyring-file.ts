/**
 * A keyring file: named AES-256 keys, one of them current, e.g. a mounted Kubernetes Secret:
 *
 *   {"current": "2026-12", "keys": {"2026-12": "<base64 of 32 random bytes>", "2026-06": "<…>"}}
 *
 * Whoever seals uses `current` and whoever opens accepts any listed key, so a rotation is: add the new key, make
 * it current, and remove the old one once nothing sealed with it is still in use (docs/operations.md). The file is
 * read again when it changes (polled like the config file); a bad file keeps the keys in use and is reported.
 * Used for gateway tokens (config gatewayTokens.keysFile) and the fleet token store (fleet.tokens.keysFile).
 * Key material never leaves this module except inside the keyring.
 */
import { readFile } from "node:fs/promises";
import { watchFile, type FileWatcher } from "./watch-file.js";

/** The keys a process seals and opens with: seal with `current`, accept any listed. */
export interface Keyring {
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** Key ids travel with what they sealed: letters, digits, '-' and '_' only (base64url-safe, no '.' or ':'). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const KEY_BYTES = 32;

/** The keyring the file describes, or the problems with it (never including key material). */
export function parseKeyringFile(text: string): Keyring | { problems: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problems: ["not valid JSON"] };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { problems: ["expected a JSON object {current, keys}"] };
  const { current, keys } = doc as { current?: unknown; keys?: unknown };
  const problems: string[] = [];
  const ring = new Map<string, Buffer>();
  if (typeof keys !== "object" || keys === null || Array.isArray(keys)) {
    problems.push("keys: expected an object of key id -> base64 key");
  } else {
    for (const [id, value] of Object.entries(keys)) {
      if (!KEY_ID_PATTERN.test(id)) problems.push(`keys: key id ${JSON.stringify(id.slice(0, 40))} must be 1-32 of A-Z a-z 0-9 _ -`);
      const bytes = typeof value === "string" && /^[A-Za-z0-9+/]+={0,2}$/.test(value.trim()) ? Buffer.from(value.trim(), "base64") : undefined;
      if (bytes === undefined || bytes.length !== KEY_BYTES) problems.push(`keys.${id}: expected base64 of exactly ${KEY_BYTES} bytes (openssl rand -base64 32)`);
      else ring.set(id, bytes);
    }
  }
  if (typeof current !== "string" || !ring.has(current)) problems.push("current: must name one of the keys");
  return problems.length > 0 ? { problems } : Object.freeze({ current: current as string, keys: ring });
}

export class KeyringFileError extends Error {
  constructor(
    /** What the file is for, in messages: "gateway token keys file", "fleet token keys file". */
    readonly what: string,
    readonly path: string,
    readonly problems: readonly string[],
  ) {
    super(`${what} ${path}: ${problems.join("; ")}`);
  }
}

export async function loadKeyringFile(path: string, what: string): Promise<Keyring> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new KeyringFileError(what, path, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  const parsed = parseKeyringFile(text);
  if ("problems" in parsed) throw new KeyringFileError(what, path, parsed.problems);
  return parsed;
}

/** Polls the file (a Secret volume swaps it by symlink: watch-file.ts) and reports each change. */
export function watchKeyringFile(
  path: string,
  what: string,
  opts: { pollIntervalMs: number; onValid: (ring: Keyring) => void; onInvalid: (problems: readonly string[]) => void },
): FileWatcher {
  return watchFile(path, {
    ...opts,
    load: (p) => loadKeyringFile(p, what),
    problemsOf: (err) => (err instanceof KeyringFileError ? err.problems : ["cannot be read"]),
  });
}
