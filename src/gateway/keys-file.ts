/**
 * The gateway token keys file (config gatewayTokens.keysFile), e.g. a mounted Kubernetes Secret:
 *
 *   {"current": "2026-12", "keys": {"2026-12": "<base64 of 32 random bytes>", "2026-06": "<…>"}}
 *
 * Tokens are minted with `current` and accepted under any listed key, so a rotation is: add the new key, make it
 * current, and remove the old one once the tokens minted with it have expired (docs/operations.md). The file is
 * read again when it changes (polled like the config file); a bad file keeps the keys in use and is reported.
 * Key material never leaves this module except inside the keyring.
 */
import { readFile } from "node:fs/promises";
import { watchFile, type FileWatcher } from "../util/watch-file.js";
import { KEY_ID_PATTERN, type GatewayKeyring } from "./gateway-token.js";

const KEY_BYTES = 32;

/** The keyring the file describes, or the problems with it (never including key material). */
export function parseKeysFile(text: string): GatewayKeyring | { problems: string[] } {
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

export class KeysFileError extends Error {
  constructor(
    readonly path: string,
    readonly problems: readonly string[],
  ) {
    super(`gateway token keys file ${path}: ${problems.join("; ")}`);
  }
}

export async function loadKeysFile(path: string): Promise<GatewayKeyring> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new KeysFileError(path, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  const parsed = parseKeysFile(text);
  if ("problems" in parsed) throw new KeysFileError(path, parsed.problems);
  return parsed;
}

/** Polls the file (a Secret volume swaps it by symlink: util/watch-file.ts) and reports each change. */
export function watchKeysFile(
  path: string,
  opts: { pollIntervalMs: number; onValid: (ring: GatewayKeyring) => void; onInvalid: (problems: readonly string[]) => void },
): FileWatcher {
  return watchFile(path, { ...opts, load: loadKeysFile, problemsOf: (err) => (err instanceof KeysFileError ? err.problems : ["cannot be read"]) });
}
