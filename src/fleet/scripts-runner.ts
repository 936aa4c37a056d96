/** Runs a Lua script by its SHA-1 (EVALSHA), loading it with EVAL the first time a server does not know it. */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface Script {
  readonly lua: string;
  readonly sha: string;
}

export function script(lua: string): Script {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

export async function runScript(client: Redis, s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    // A restarted (or another) server has an empty script cache: https://redis.io/docs/latest/commands/evalsha/
    if (!String((err as Error)?.message).startsWith("NOSCRIPT")) throw err;
    return client.eval(s.lua, keys.length, ...keys, ...args);
  }
}
