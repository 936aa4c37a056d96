// The gateway token keys file as an operator mounts it: read at start (a bad file stops the start, naming the
// problem and never a key), polled afterwards (a Secret volume swaps its file), a bad file keeping the keys in use.
import { randomBytes } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import type { GatewayKeyring } from "../../src/gateway/gateway-token.js";
import { watchKeysFile } from "../../src/gateway/keys-file.js";
import { createLogger } from "../../src/observability/logger.js";
import { LogCapture } from "../support/log-capture.js";
import { waitFor } from "../support/ports.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-gateway-keys-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const KEY = randomBytes(32).toString("base64");
const keysJson = (current: string, keys: Record<string, string>) => JSON.stringify({ current, keys });

function config(keysFile: string) {
  return parseConfig({
    listen: { unixSocket: join(dir, `authz-${randomBytes(4).toString("hex")}.sock`) },
    admin: { socket: null },
    http: { listen: null },
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    tenants: [{ id: "acme", divisions: ["d"], environment: "mypurecloud.de" }],
    gatewayTokens: { keysFile },
  });
}

describe("gateway token keys file", () => {
  it.each([
    ["missing", undefined, "cannot be read (ENOENT)"],
    ["with a short key", keysJson("a", { a: KEY.slice(0, 20) }), "keys.a: expected base64 of exactly 32 bytes"],
    ["naming a current key it does not list", keysJson("b", { a: KEY }), "current: must name one of the keys"],
  ])("a keys file %s stops the start, naming the problem and no key", async (_what, text, problem) => {
    const keysFile = join(dir, `keys-${randomBytes(4).toString("hex")}.json`);
    if (text !== undefined) await writeFile(keysFile, text);
    const logs = new LogCapture();
    const started = startApp({ config: config(keysFile), logger: createLogger("info", logs), env: {}, defaultMetrics: false });
    const err = await started.then(
      async (app) => {
        await app.stop(100);
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).toContain(problem);
    expect(err?.message).not.toContain(KEY.slice(0, 12));
  });

  it("a changed file is reported once it is swapped in; an invalid one is reported as such", async () => {
    const keysFile = join(dir, "watched.json");
    await writeFile(keysFile, keysJson("a", { a: KEY }));
    const valid: GatewayKeyring[] = [];
    const invalid: (readonly string[])[] = [];
    const w = watchKeysFile(keysFile, { pollIntervalMs: 100, onValid: (r) => valid.push(r), onInvalid: (p) => invalid.push(p) });
    try {
      await w.ready; // the first look records the file in use
      expect(valid).toHaveLength(0);
      await writeFile(`${keysFile}.tmp`, keysJson("b", { a: KEY, b: randomBytes(32).toString("base64") }));
      await rename(`${keysFile}.tmp`, keysFile);
      await waitFor(() => valid.length === 1, 5000, { what: "new keys reported" });
      expect(valid[0]!.current).toBe("b");
      expect([...valid[0]!.keys.keys()]).toEqual(["a", "b"]);
      await writeFile(`${keysFile}.tmp`, "{ not json");
      await rename(`${keysFile}.tmp`, keysFile);
      await waitFor(() => invalid.length === 1, 5000, { what: "invalid keys reported" });
      expect(invalid[0]).toEqual(["not valid JSON"]);
      expect(valid).toHaveLength(1);
    } finally {
      w.close();
    }
  });
});

describe("config gatewayTokens", () => {
  it("defaults ttlSeconds to 3600 and bounds it", () => {
    expect(config("/k.json").gatewayTokens).toEqual({ keysFile: "/k.json", ttlSeconds: 3600 });
    const base = { secrets: { backend: "file", file: { directory: "/x" } }, tenants: [{ id: "a", divisions: ["d"], environment: "mypurecloud.de" }] };
    expect(() => parseConfig({ ...base, gatewayTokens: { keysFile: "/k", ttlSeconds: 10 } })).toThrow(/gatewayTokens\.ttlSeconds/);
    expect(() => parseConfig({ ...base, gatewayTokens: { keysFile: "/k", ttlSeconds: 100_000 } })).toThrow(/gatewayTokens\.ttlSeconds/);
    expect(() => parseConfig({ ...base, gatewayTokens: {} })).toThrow(/gatewayTokens\.keysFile/);
    expect(parseConfig(base).gatewayTokens).toBeUndefined();
  });
});
