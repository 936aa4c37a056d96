/**
 * The `fleet:` block: what replicas share through Redis. Optional as a whole; without it scopegate is what it
 * was (each process mints and caches its own tokens). `redis` is the connection every fleet feature uses
 * (src/fleet/redis.ts); `tokens` turns on the shared token store (one token per tenant across the fleet).
 * Secrets are never here: the Redis password comes from a file, the token encryption keys from a keyring file.
 */
import { z } from "zod";

/** redis://host[:port][/db] or rediss:// (TLS); no credentials in the URL (username / passwordFile instead). */
const redisUrl = z.string().superRefine((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: "custom", message: "expected redis://host[:port][/db] or rediss://…" });
    return;
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") ctx.addIssue({ code: "custom", message: "scheme must be redis:// or rediss:// (TLS)" });
  if (u.hostname === "") ctx.addIssue({ code: "custom", message: "needs a host" });
  if (u.username !== "" || u.password !== "") {
    ctx.addIssue({ code: "custom", message: "must not carry credentials: set fleet.redis.username and fleet.redis.passwordFile" });
  }
  if (u.pathname.length > 1 && !/^\/\d{1,2}$/.test(u.pathname)) ctx.addIssue({ code: "custom", message: "the path, if any, is a database number (/0 … /99)" });
  if (u.search !== "" || u.hash !== "") ctx.addIssue({ code: "custom", message: "no query or fragment: options go in fleet.redis" });
});

export const fleetRedisSchema = z
  .object({
    url: redisUrl,
    /** Redis ACL user (AUTH <username> <password>); default the "default" user. */
    username: z.string().min(1).optional(),
    /** A file holding the Redis password (a mounted Secret); read at start. */
    passwordFile: z.string().min(1).optional(),
    /** TLS settings for rediss:// (server certificate checked against the system CAs, or caFile). */
    tls: z
      .object({
        caFile: z.string().min(1).optional(),
        /** SNI and the name the certificate must carry; default the URL's host. */
        serverName: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Every key scopegate writes starts with this (several deployments may share one Redis). */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.{}-]{1,64}$/, "1-64 of A-Z a-z 0-9 : _ . - { }")
      .default("scopegate:"),
    /** How long establishing a connection may take before it is retried (with backoff). */
    connectTimeoutMs: z.number().int().min(50).max(60_000).default(2000),
    /**
     * Budget of one Redis command. Past it the command fails and the caller falls back (local minting); it never
     * waits for Redis longer. Redis is only asked on a local cache miss, never for a cached tenant.
     */
    commandTimeoutMs: z.number().int().min(10).max(10_000).default(500),
  })
  .strict();

export const fleetTokensSchema = z
  .object({
    /**
     * AES-256-GCM keys for tokens at rest in Redis, as a keyring file (util/keyring-file.ts): seal with `current`,
     * open with any listed; re-read when it changes (every reload.pollIntervalMs).
     */
    keysFile: z.string().min(1),
    /**
     * How long one replica holds the right to mint a tenant's token (SET NX PX). Others wait for its result; if
     * it crashes they take over once the lease has passed. Longer than one token request (tokens.requestTimeoutMs).
     */
    lockLeaseMs: z.number().int().min(100).max(120_000).default(10_000),
    /** While another replica holds the lease, look for its token this often (besides its pub/sub notice). */
    pollIntervalMs: z.number().int().min(5).max(5000).default(100),
  })
  .strict();

export const fleetSchema = z
  .object({
    redis: fleetRedisSchema,
    /** The shared token store. Unset: tokens stay per process even with fleet.redis configured. */
    tokens: fleetTokensSchema.optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.redis.tls !== undefined && !f.redis.url.startsWith("rediss://")) {
      ctx.addIssue({ code: "custom", path: ["redis", "tls"], message: "needs a rediss:// url" });
    }
  });

export type FleetConfig = z.infer<typeof fleetSchema>;
export type FleetRedisConfig = z.infer<typeof fleetRedisSchema>;
export type FleetTokensConfig = z.infer<typeof fleetTokensSchema>;
