// The fleet's Redis connection against a real redis-server: up once connected, down at once when Redis dies
// (commands fail fast instead of queueing), up again when it returns, without a restart of the client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { connectFleetRedis, type FleetRedis } from "../../src/fleet/redis.js";
import { probeFleet } from "../../src/probe.js";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/ports.js";
import { startRedis, type TestRedis } from "../support/redis.js";

const silent = { info: () => undefined, warn: () => undefined };

describe("fleet redis connection", () => {
  let redis: TestRedis;
  let fleet: FleetRedis;
  beforeAll(async () => {
    redis = await startRedis();
    const config = parseConfigText(`
secrets: { backend: file, file: { directory: /nonexistent } }
tenants: [{ id: acme, divisions: [d], environment: mypurecloud.de }]
fleet: { redis: { url: "${redis.url}", commandTimeoutMs: 300, connectTimeoutMs: 500 } }
`);
    fleet = await connectFleetRedis(config.fleet!.redis, { logger: silent });
  });
  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
  });

  it("reports up/down, fails commands fast while down and reconnects by itself", async () => {
    await waitFor(() => fleet.isUp(), 5000, { what: "redis up" });
    const changes: boolean[] = [];
    fleet.onChange((up) => changes.push(up));
    await fleet.client.set(`${fleet.keyPrefix}probe`, "1");
    expect(redis.cli("GET", `${fleet.keyPrefix}probe`).trim()).toBe("1");

    await redis.kill();
    await waitFor(() => !fleet.isUp(), 5000, { what: "redis down" });
    const started = Date.now();
    await expect(fleet.client.get(`${fleet.keyPrefix}probe`)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(300);

    expect(await fleet.whenUp(100)).toBe(false);
    const back = fleet.whenUp(10_000);
    await redis.restart();
    expect(await back).toBe(true);
    expect(fleet.isUp()).toBe(true);
    expect(await fleet.client.get(`${fleet.keyPrefix}probe`)).toBeNull(); // a fresh server: nothing persisted
    expect(changes).toEqual([false, true]);
  });

  it("check-config --probe says whether Redis answers and the keys file reads, naming no secret", async () => {
    const ok = await probeFleet({ redis: { url: redis.url, keyPrefix: "scopegate:", connectTimeoutMs: 500, commandTimeoutMs: 300 }, tokens: { keysFile: "/nonexistent/keys.json", lockLeaseMs: 10_000, pollIntervalMs: 100 } });
    expect(ok).toEqual([
      { tenant: "fleet.redis", result: "ok" },
      { tenant: "fleet.tokens.keysFile", result: "cannot be read (ENOENT)" },
    ]);
    const down = await probeFleet({ redis: { url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: "scopegate:", connectTimeoutMs: 200, commandTimeoutMs: 100 } });
    expect(down).toEqual([{ tenant: "fleet.redis", result: "unreachable (ECONNREFUSED)" }]);
  });
});
