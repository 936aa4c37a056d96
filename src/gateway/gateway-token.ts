/**
 * Gateway tokens: the opaque bearer an SDK app receives from a gateway login (docs/security.md "Gateway login").
 * Minted and verified locally, with no shared state: any worker, replica or restarted process holding the same
 * keys file verifies any other's tokens.
 *
 *   sgw1.<keyId>.<base64url(iv | ciphertext | tag)>
 *
 * AES-256-GCM (node:crypto) over a small JSON payload {t: tenant, i: caller identity, exp, iat} (seconds), with
 * "sgw1.<keyId>" as additional authenticated data, so the key id cannot be swapped. GCM's tag check happens in
 * OpenSSL (EVP_DecryptFinal_ex compares the tag with CRYPTO_memcmp, a constant-time comparison): a forged token
 * fails in time independent of how many tag bytes were right. The payload is encrypted as well as authenticated,
 * so the token shows nobody which tenant or workload it belongs to.
 *
 * Pure apart from the random IV; the clock is passed in.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { KEY_ID_PATTERN, type Keyring } from "../util/keyring-file.js";

export const GATEWAY_TOKEN_PREFIX = "sgw1.";

/** What a gateway token says. Times are Unix seconds. */
export interface GatewayClaims {
  readonly tenant: string;
  /** The caller identity that logged in (mesh principal or callers.localIdentity); "" for none. */
  readonly identity: string;
  readonly iat: number;
  readonly exp: number;
}

/** The keys a process mints and verifies with: mint with `current`, accept any listed (util/keyring-file.ts). */
export type GatewayKeyring = Keyring;

/** Key ids appear in the token: letters, digits, '-' and '_' only (base64url-safe, no '.'). */
export { KEY_ID_PATTERN };
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Far above any real token (~150 bytes); a longer bearer is refused before any base64 work. */
const MAX_TOKEN_LENGTH = 2048;

export function mintGatewayToken(ring: GatewayKeyring, claims: GatewayClaims): string {
  const key = ring.keys.get(ring.current);
  if (key === undefined) throw new Error("gateway keyring: the current key is not in the ring");
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(`${GATEWAY_TOKEN_PREFIX}${ring.current}`, "latin1"));
  const payload = JSON.stringify({ t: claims.tenant, i: claims.identity, iat: claims.iat, exp: claims.exp });
  const sealed = Buffer.concat([iv, cipher.update(payload, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${GATEWAY_TOKEN_PREFIX}${ring.current}.${sealed.toString("base64url")}`;
}

/**
 * The claims of a token this keyring sealed, or undefined: malformed, an unknown (e.g. rotated-out) key id,
 * tampered or forged. Expiry is the caller's check (verifyGatewayToken), so a cache can hold the claims.
 */
export function openGatewayToken(ring: GatewayKeyring, token: string): GatewayClaims | undefined {
  if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(GATEWAY_TOKEN_PREFIX)) return undefined;
  const dot = token.indexOf(".", GATEWAY_TOKEN_PREFIX.length);
  if (dot === -1) return undefined;
  const keyId = token.slice(GATEWAY_TOKEN_PREFIX.length, dot);
  const key = ring.keys.get(keyId);
  if (key === undefined) return undefined;
  const body = token.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  const sealed = Buffer.from(body, "base64url");
  if (sealed.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(token.slice(0, dot), "latin1"));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    return claimsOf(JSON.parse(plain.toString("utf8")));
  } catch {
    return undefined; // the tag did not verify (tampered, forged, another key) or the payload is not ours
  }
}

function claimsOf(v: unknown): GatewayClaims | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.t !== "string" || typeof o.i !== "string" || !Number.isInteger(o.exp) || !Number.isInteger(o.iat)) return undefined;
  return Object.freeze({ tenant: o.t, identity: o.i, iat: o.iat as number, exp: o.exp as number });
}
