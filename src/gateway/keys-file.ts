/**
 * The gateway token keys file (config gatewayTokens.keysFile), e.g. a mounted Kubernetes Secret: a keyring file
 * (util/keyring-file.ts, shared with the fleet token store's keys):
 *
 *   {"current": "2026-12", "keys": {"2026-12": "<base64 of 32 random bytes>", "2026-06": "<…>"}}
 *
 * Tokens are minted with `current` and accepted under any listed key, so a rotation is: add the new key, make it
 * current, and remove the old one once the tokens minted with it have expired (docs/operations.md).
 */
import type { FileWatcher } from "../util/watch-file.js";
import { KeyringFileError, loadKeyringFile, parseKeyringFile, watchKeyringFile } from "../util/keyring-file.js";
import type { GatewayKeyring } from "./gateway-token.js";

const WHAT = "gateway token keys file";

/** The keyring the file describes, or the problems with it (never including key material). */
export const parseKeysFile = parseKeyringFile;

export { KeyringFileError as KeysFileError };

export function loadKeysFile(path: string): Promise<GatewayKeyring> {
  return loadKeyringFile(path, WHAT);
}

/** Polls the file and reports each change (util/keyring-file.ts). */
export function watchKeysFile(
  path: string,
  opts: { pollIntervalMs: number; onValid: (ring: GatewayKeyring) => void; onInvalid: (problems: readonly string[]) => void },
): FileWatcher {
  return watchKeyringFile(path, WHAT, opts);
}
