import { describe, expect, it } from "vitest";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import { ClientCredentials } from "../../src/secrets/credentials.js";
import type { SecretReadResult, SecretStore } from "../../src/secrets/secret-store.js";

class FlakyStore implements SecretStore {
  up = true;
  reads = 0;
  async read(key: string): Promise<SecretReadResult> {
    this.reads++;
    if (!this.up) return { kind: "unavailable", detail: "down" };
    return key === "known" ? { kind: "found", record: { credentials: new ClientCredentials("c", "s") } } : { kind: "not_found" };
  }
}

function setup() {
  let now = 1_000_000; // lru-cache treats a start time of 0 as "no TTL"
  const inner = new FlakyStore();
  const store = new CachedSecretStore(inner, { ttlMs: 1000, negativeTtlMs: 500, maxStaleMs: 5000, max: 10, loadTimeoutMs: 1000, now: () => now });
  return { inner, store, advance: (ms: number) => (now += ms) };
}
const never = new AbortController().signal;

describe("CachedSecretStore", () => {
  it("shares one load among concurrent reads", async () => {
    const { inner, store } = setup();
    await Promise.all(Array.from({ length: 20 }, () => store.read("known", never)));
    expect(inner.reads).toBe(1);
  });

  it("caches not_found for the negative TTL only", async () => {
    const { inner, store, advance } = setup();
    for (let i = 0; i < 10; i++) expect((await store.read("ghost", never)).kind).toBe("not_found");
    expect(inner.reads).toBe(1);
    advance(600);
    await store.read("ghost", never);
    expect(inner.reads).toBe(2);
  });

  it("serves a stale record while the store is down, up to maxStale, and revalidates in the background", async () => {
    const { inner, store, advance } = setup();
    expect((await store.read("known", never)).kind).toBe("found");
    inner.up = false;
    advance(1500);
    const readsBefore = inner.reads;
    expect(store.peek("known")?.kind).toBe("found"); // stale, served at once ...
    await new Promise((r) => setImmediate(r));
    expect(inner.reads).toBe(readsBefore + 1); // ... with one background refresh
    for (let i = 0; i < 10; i++) store.peek("known");
    await new Promise((r) => setImmediate(r));
    expect(inner.reads).toBe(readsBefore + 1); // a failed refresh is not retried on every peek
    expect((await store.read("known", never)).kind).toBe("found");
    advance(5000);
    expect(store.peek("known")).toBeUndefined();
    expect((await store.read("known", never)).kind).toBe("unavailable");
  });

  it("a successful background refresh replaces the stale record", async () => {
    const { inner, store, advance } = setup();
    await store.read("known", never);
    advance(1500);
    store.peek("known");
    await new Promise((r) => setImmediate(r));
    expect(inner.reads).toBe(2);
    expect(store.peek("known")?.kind).toBe("found");
    await new Promise((r) => setImmediate(r));
    expect(inner.reads).toBe(2); // fresh again: no further reads
  });

  it("does not cache unavailable answers", async () => {
    const { inner, store } = setup();
    inner.up = false;
    expect((await store.read("known", never)).kind).toBe("unavailable");
    inner.up = true;
    expect((await store.read("known", never)).kind).toBe("found");
  });
});

describe("CachedSecretStore fresh reads and negative answers", () => {
  it("a fresh read goes to the store, and keeps the cached record when the store is down", async () => {
    const { inner, store } = setup();
    await store.read("known", never);
    await store.read("known", never, { fresh: true });
    expect(inner.reads).toBe(2);
    inner.up = false;
    expect((await store.read("known", never, { fresh: true })).kind).toBe("found");
    expect(inner.reads).toBe(3);
  });

  it("does not serve a stale not_found from peek, so a newly written tenant is read at once", async () => {
    const { store, advance } = setup();
    expect((await store.read("ghost", never)).kind).toBe("not_found");
    expect(store.peek("ghost")?.kind).toBe("not_found");
    advance(600);
    expect(store.peek("ghost")).toBeUndefined();
  });
});
