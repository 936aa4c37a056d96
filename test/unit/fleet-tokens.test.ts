// The pure parts of the fleet token store: key names (digests only, bound to the origin), the envelope
// (AES-256-GCM, key id in the value, the Redis key and lifetime as AAD, rotation), and the script replies and
// pub/sub notices as values.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openToken, sealToken, tokenId } from "../../src/fleet/token-envelope.js";
import { channelOf, fleetTokenKeys, originDigest, sameOrigin, tenantKeys } from "../../src/fleet/token-keys.js";
import { decodeNotice, encodeNotice, readObtainReply, readOfferReply, ScriptReplyError } from "../../src/fleet/token-scripts.js";
import type { TokenOrigin } from "../../src/tokens/token-provider.js";
import type { Keyring } from "../../src/util/keyring-file.js";

const origin: TokenOrigin = { tokenUrl: "https://login.mypurecloud.de/oauth/token", credentialsKey: "acme", clientId: "acme-client-SECRETISH", subject: undefined };
const ring = (current: string, ...ids: string[]): Keyring => ({ current, keys: new Map([current, ...ids].map((id) => [id, randomBytes(32)])) });

describe("fleet token keys", () => {
  it("name no tenant, client id or URL in clear, share one hash tag per tenant and carry the prefix", () => {
    const k = fleetTokenKeys("scopegate:", "acme", origin);
    for (const name of [k.token, k.lock, k.fence, k.index, k.evicted]) {
      expect(name.startsWith("scopegate:")).toBe(true);
      expect(name).not.toMatch(/acme|mypurecloud|client|SECRETISH/);
      expect(name).toContain(k.tenantTag); // one Redis Cluster slot for the scripts
    }
    expect(k.tenantTag).toMatch(/^\{[0-9a-f]{32}\}$/);
    expect(k.token).toBe(`scopegate:tok:${k.tenantTag}:${k.origin}`);
    expect(tenantKeys("scopegate:", "acme").index).toBe(k.index);
    expect(channelOf("p:")).toBe("p:tokens");
  });

  it("give every change of origin (client id, token URL, record, grant subject) another token key, and another tenant another tag", () => {
    const base = fleetTokenKeys("p:", "acme", origin);
    const variants: TokenOrigin[] = [
      { ...origin, clientId: "rotated-client" },
      { ...origin, tokenUrl: "https://login.mypurecloud.ie/oauth/token" },
      { ...origin, credentialsKey: "acme-2" },
      { ...origin, subject: "api-user-key" },
      { ...origin, subject: "" },
    ];
    const tokens = new Set([base.token, ...variants.map((o) => fleetTokenKeys("p:", "acme", o).token)]);
    expect(tokens.size).toBe(variants.length + 1);
    expect(fleetTokenKeys("p:", "acme2", origin).tenantTag).not.toBe(base.tenantTag);
    // Parts are separated: moving a character from one field to the next changes the digest.
    expect(originDigest({ ...origin, credentialsKey: "ab", clientId: "c" })).not.toBe(originDigest({ ...origin, credentialsKey: "a", clientId: "bc" }));
    expect(sameOrigin({ ...origin }, origin)).toBe(true);
    expect(sameOrigin({ ...origin, subject: "x" }, origin)).toBe(false);
    expect(sameOrigin(undefined, origin)).toBe(false);
  });
});

describe("fleet token envelope", () => {
  const ctx = { key: "scopegate:tok:{t}:o", mintedAtMs: 1_000, expiresAtMs: 3_600_000 };

  it("seals with the current key (its id in the value) so the bearer is not in the value, and opens it again", () => {
    const r = ring("k2");
    const sealed = sealToken(r, ctx, "Bearer the-real-token");
    expect(sealed).toMatch(/^v1\.k2\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("the-real-token");
    expect(Buffer.from(sealed.split(".")[2]!, "base64url").toString("latin1")).not.toContain("the-real-token");
    expect(openToken(r, ctx, sealed)).toBe("Bearer the-real-token");
    expect(sealToken(r, ctx, "Bearer the-real-token")).not.toBe(sealed); // random IV
  });

  it("does not open under another key name, another lifetime or minting time, or a tampered value", () => {
    const r = ring("k1");
    const sealed = sealToken(r, ctx, "Bearer t");
    expect(openToken(r, { ...ctx, key: "scopegate:tok:{t}:other" }, sealed)).toBeUndefined();
    expect(openToken(r, { ...ctx, expiresAtMs: ctx.expiresAtMs + 1 }, sealed)).toBeUndefined();
    expect(openToken(r, { ...ctx, mintedAtMs: 0 }, sealed)).toBeUndefined();
    const body = Buffer.from(sealed.split(".")[2]!, "base64url");
    body[14] = body[14]! ^ 1;
    expect(openToken(r, ctx, `v1.k1.${body.toString("base64url")}`)).toBeUndefined();
    for (const bad of ["", "v1", "v1.k1", "v2.k1.AAAA", `v1.k1.${"A".repeat(20)}`, `${sealed}.x`, "v1.bad id.AAAA"]) expect(openToken(r, ctx, bad)).toBeUndefined();
  });

  it("rotates: opens with any listed key, seals with the current one, and refuses a key that was removed", () => {
    const old = ring("2026-06");
    const sealedOld = sealToken(old, ctx, "Bearer old");
    const both: Keyring = { current: "2026-12", keys: new Map([["2026-12", randomBytes(32)], ["2026-06", old.keys.get("2026-06")!]]) };
    expect(openToken(both, ctx, sealedOld)).toBe("Bearer old");
    const sealedNew = sealToken(both, ctx, "Bearer new");
    expect(sealedNew.startsWith("v1.2026-12.")).toBe(true);
    const onlyNew: Keyring = { current: "2026-12", keys: new Map([["2026-12", both.keys.get("2026-12")!]]) };
    expect(openToken(onlyNew, ctx, sealedNew)).toBe("Bearer new");
    expect(openToken(onlyNew, ctx, sealedOld)).toBeUndefined();
    // Same id, other key material (a key replaced instead of rotated): does not open.
    expect(openToken(ring("2026-06"), ctx, sealedOld)).toBeUndefined();
  });
});

describe("fleet token id", () => {
  it("is the same for the same token and key on every replica, differs otherwise, and shows nothing of the bearer", () => {
    const r = ring("k1");
    const id = tokenId(r, "p:tok:{t}:o", "Bearer abc");
    expect(tokenId({ current: "k1", keys: new Map(r.keys) }, "p:tok:{t}:o", "Bearer abc")).toBe(id);
    expect(tokenId(r, "p:tok:{t}:o", "Bearer abd")).not.toBe(id);
    expect(tokenId(r, "p:tok:{t}:x", "Bearer abc")).not.toBe(id);
    expect(tokenId(ring("k1"), "p:tok:{t}:o", "Bearer abc")).not.toBe(id);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe("fleet script replies and notices", () => {
  it("reads obtain and offer replies, refusing malformed ones", () => {
    expect(readObtainReply([1, "v1.k.x", "10", "20"])).toEqual({ kind: "found", stored: { sealed: "v1.k.x", mintedAtMs: 10, expiresAtMs: 20 } });
    expect(readObtainReply([2, 7])).toEqual({ kind: "locked", fence: "7" });
    expect(readObtainReply([0, 1234])).toEqual({ kind: "held", leaseLeftMs: 1234 });
    expect(readObtainReply([0, -2])).toEqual({ kind: "held", leaseLeftMs: 0 });
    expect(readObtainReply([3, 1500])).toEqual({ kind: "paused", leftMs: 1500 });
    expect(readOfferReply([-1])).toEqual({ kind: "evicted" });
    expect(readOfferReply([0])).toEqual({ kind: "same" });
    expect(readOfferReply([1, "v", "1", "2"])).toMatchObject({ kind: "theirs" });
    expect(readOfferReply([2])).toEqual({ kind: "stored" });
    for (const bad of [null, "x", [9], [1, null, "1", "2"], [1, "v", "soon", "2"]]) expect(() => readObtainReply(bad)).toThrow(ScriptReplyError);
  });

  it("round-trips notices and ignores anything else on the channel", () => {
    const n = { type: "minted", replica: "r1", tenantId: "acme", origin: "abc", mintedAtMs: 5 } as const;
    expect(decodeNotice(encodeNotice(n))).toEqual(n);
    expect(decodeNotice(encodeNotice({ type: "evicted", replica: "r", tenantId: "acme" }))).toEqual({ type: "evicted", replica: "r", tenantId: "acme" });
    for (const junk of ["", "{", "null", "[]", '{"type":"minted","replica":"r","tenantId":"a"}', '{"type":"nuke","replica":"r","tenantId":"a"}', "x".repeat(5000)]) {
      expect(decodeNotice(junk)).toBeUndefined();
    }
  });
});
