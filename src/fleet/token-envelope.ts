/**
 * Tokens at rest in Redis (pure apart from the random IV): AES-256-GCM (NIST SP 800-38D) with a 96-bit random IV,
 *
 *   v1.<key id>.<base64url(iv | ciphertext | tag)>
 *
 * The additional authenticated data is the Redis key name and the plaintext fields stored beside the value (minted
 * at, served until): a sealed token copied to another key (another tenant or origin), or stored with another
 * lifetime, does not open. Sealed with the keyring's current key; opened with any listed key (rotation). A value
 * read straight from Redis is not a usable token: the bearer is inside the ciphertext.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { Keyring } from "../util/keyring-file.js";
import { KEY_ID_PATTERN } from "../util/keyring-file.js";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Far above any real bearer (Genesys tokens are ~100 characters). */
const MAX_SEALED_LENGTH = 16 * 1024;

/** What is stored beside the sealed value, in clear, and bound to it. */
export interface EnvelopeContext {
  /** The Redis key the value lives under. */
  readonly key: string;
  readonly mintedAtMs: number;
  readonly expiresAtMs: number;
}

function aad(ctx: EnvelopeContext, keyId: string): Buffer {
  return Buffer.from(`${VERSION}.${keyId}\n${ctx.key}\n${ctx.mintedAtMs}\n${ctx.expiresAtMs}`, "utf8");
}

export function sealToken(ring: Keyring, ctx: EnvelopeContext, authorization: string): string {
  const key = ring.keys.get(ring.current);
  if (key === undefined) throw new Error("fleet keyring: the current key is not in the ring");
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad(ctx, ring.current));
  const sealed = Buffer.concat([iv, cipher.update(authorization, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${ring.current}.${sealed.toString("base64url")}`;
}

/** The authorization value, or undefined: malformed, sealed under a key no longer listed, tampered or moved. */
export function openToken(ring: Keyring, ctx: EnvelopeContext, value: string): string | undefined {
  if (value.length > MAX_SEALED_LENGTH) return undefined;
  const [version, keyId, body, ...rest] = value.split(".");
  if (version !== VERSION || keyId === undefined || body === undefined || rest.length > 0 || !KEY_ID_PATTERN.test(keyId)) return undefined;
  const key = ring.keys.get(keyId);
  if (key === undefined) return undefined;
  const raw = Buffer.from(body, "base64url");
  if (raw.length < IV_BYTES + TAG_BYTES + 1) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(aad(ctx, keyId));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}

/**
 * An id that tells two tokens apart without revealing either: HMAC-SHA-256 over the Redis key and the bearer, under a
 * key derived from the current key with HKDF (RFC 5869; the AES key itself is used for nothing but AES-GCM).
 * Replicas with the same current key compute the same id for the same token.
 */
export function tokenId(ring: Keyring, key: string, authorization: string): string {
  const k = ring.keys.get(ring.current);
  if (k === undefined) throw new Error("fleet keyring: the current key is not in the ring");
  const idKey = Buffer.from(hkdfSync("sha256", k, Buffer.alloc(0), "scopegate fleet token id v1", 32));
  return createHmac("sha256", idKey).update(key).update("\0").update(authorization).digest("base64url").slice(0, 22);
}
