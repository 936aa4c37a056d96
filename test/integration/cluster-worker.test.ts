// A cluster worker in-process (runWorker with the IPC channel as plain functions): it reads no secrets and mints
// no tokens. Its secret store here is a Vault address where nothing listens, so any read would fail and be logged;
// the worker still serves, reports SERVING only once the primary says its store answered, and allows a check with
// the token the primary sent over the channel.
import { afterEach, describe, expect, it } from "vitest";
import { message, type ClusterMessage, type ReadyMessage, type StartMessage, type TokenAsk, type TokenReply } from "../../src/cluster/protocol.js";
import { runWorker } from "../../src/cluster/worker.js";
import { parseConfig } from "../../src/config/index.js";
import { checkRequest } from "../support/check-requests.js";
import { checkClient, type CheckClient } from "../support/grpc-clients.js";
import { LogCapture } from "../support/log-capture.js";
import { freePort, waitFor } from "../support/ports.js";

interface Harness {
  readonly logs: LogCapture;
  readonly sent: ClusterMessage[];
  deliver(m: unknown): void;
  stop(): Promise<void>;
}

async function startWorker(vaultPort: number, tcpPort: number): Promise<Harness> {
  const logs = new LogCapture();
  const sent: ClusterMessage[] = [];
  const listeners: ((m: unknown) => void)[] = [];
  let exited!: () => void;
  const exit = new Promise<void>((resolve) => (exited = resolve));
  const config = parseConfig({
    listen: { tcp: `127.0.0.1:${tcpPort}`, unixSocket: null },
    secrets: { backend: "vault", vault: { address: `http://127.0.0.1:${vaultPort}`, auth: { method: "token", token: { env: "VAULT_TOKEN" } } } },
    tenants: [{ id: "acme", divisions: ["div-acme"], environment: "mypurecloud.de" }],
    http: { listen: null },
    reload: { watch: false },
    logging: { level: "debug" },
  });
  const running = runWorker({
    env: { VAULT_TOKEN: "worker-never-uses-this" },
    logDestination: logs,
    send: (m) => void sent.push(m),
    onMessage: (l) => void listeners.push(l),
    onPrimaryGone: () => undefined,
    onSignal: () => undefined,
    exit: () => exited(),
  });
  const deliver = (m: unknown): void => listeners.forEach((l) => l(m));
  deliver(message<StartMessage>({ type: "start", config, configPath: undefined, slot: 1, unixSocket: false, processMetrics: false }));
  await running;
  return {
    logs,
    sent,
    deliver,
    stop: async () => {
      deliver({ tag: "scopegate.cluster", type: "shutdown", graceMs: 500 });
      await exit;
    },
  };
}

let worker: Harness | undefined;
let client: CheckClient | undefined;
afterEach(async () => {
  client?.close();
  await worker?.stop();
  worker = client = undefined;
});

describe("a cluster worker", () => {
  it("reads no secrets: SERVING once the primary is ready, and allows with the primary's token", async () => {
    const vaultPort = await freePort(); // nothing listens here: a read by the worker would fail and be logged
    const tcpPort = await freePort();
    worker = await startWorker(vaultPort, tcpPort);
    expect(worker.sent.map((m) => m.type)).toEqual(["listening"]);
    client = checkClient(`127.0.0.1:${tcpPort}`);
    expect(await client.health()).toBe("NOT_SERVING");

    worker.deliver(message<ReadyMessage>({ type: "ready" }));
    await waitFor(async () => (await client!.health()) === "SERVING", 5_000, { what: "SERVING after the primary's ready" });

    const w = worker;
    const answered = client.check(checkRequest({ headers: { "x-tenant-id": "acme" } }));
    await waitFor(() => w.sent.some((m) => m.type === "token.ask"), 5_000, { what: "the worker asks the primary" });
    const ask = w.sent.find((m): m is TokenAsk => m.type === "token.ask")!;
    expect(ask.tenantId).toBe("acme");
    const expiresAtMs = Date.now() + 600_000;
    w.deliver(message<TokenReply>({ type: "token.reply", id: ask.id, answer: { kind: "token", token: { authorization: "Bearer from-the-primary", expiresAtMs, refreshAtMs: expiresAtMs - 60_000 } } }));
    const res = await answered;
    if (res.httpResponse?.$case !== "okResponse") throw new Error(`not allowed: ${JSON.stringify(res.httpResponse)}`);
    const auth = res.httpResponse.value.headers.find((h) => h.header?.key.toLowerCase() === "authorization");
    expect(auth?.header?.value).toBe("Bearer from-the-primary");

    const lines = w.logs.text;
    expect(lines).not.toMatch(/secret store not answering/);
    expect(lines).not.toMatch(/token request/);
    expect(lines).not.toMatch(/vault/i);
  });
});
