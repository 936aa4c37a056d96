/** The fleet token store's scripts (loaded once) and the envelope applied to a shared token under its Redis key. */
import type { SharedToken } from "../tokens/shared-tokens.js";
import type { Keyring } from "../util/keyring-file.js";
import { script } from "./scripts-runner.js";
import { openToken, sealToken } from "./token-envelope.js";
import type { FleetTokenKeys } from "./token-keys.js";
import { EVICT, OBTAIN, OFFER, RELEASE, WRITE, type StoredToken } from "./token-scripts.js";

export const S = { obtain: script(OBTAIN), write: script(WRITE), release: script(RELEASE), offer: script(OFFER), evict: script(EVICT) };

/** Fences, the tenant index and eviction marks live this long: past any token's lifetime (Genesys: 24 h at most). */
export const STATE_TTL_MS = 48 * 3600 * 1000;

export function sealShared(ring: Keyring, keys: FleetTokenKeys, t: SharedToken): string {
  return sealToken(ring, { key: keys.token, mintedAtMs: t.mintedAtMs, expiresAtMs: t.expiresAtMs }, t.authorization);
}

/** The shared token, or undefined when no listed key opens it (or it was moved or altered). */
export function openStored(ring: Keyring, keys: FleetTokenKeys, stored: StoredToken): SharedToken | undefined {
  const authorization = openToken(ring, { key: keys.token, mintedAtMs: stored.mintedAtMs, expiresAtMs: stored.expiresAtMs }, stored.sealed);
  return authorization === undefined ? undefined : { authorization, mintedAtMs: stored.mintedAtMs, expiresAtMs: stored.expiresAtMs };
}
