// Loaded with `node --import` into the trivial grpc-js server by the A/B phase's `trivial+http-clients` subject
// (scripts/bench/phase-ab.ts): before the server starts, the process makes HTTP/1.1 requests with node:http and with
// fetch (undici), and reads a few file streams, against a loopback HTTP server of its own, then closes everything.
// Nothing of it runs while the server is measured: what is left is node's shared stream, socket and event code
// having seen those other callers. It does more kinds of I/O than scopegate's process (which makes node:http and
// axios calls only, runs no HTTP server in the bench and uses no fetch); scripts/bench/node-http-client-warmup.mjs
// (`trivial+node-http-client`) makes only scopegate's kinds, to a server in another process.
import { createReadStream } from "node:fs";
import http from "node:http";

const ROUNDS = 300;

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end(JSON.stringify({ data: { ok: true, n: Math.random() } })));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
const agent = new http.Agent({ keepAlive: true });

function viaNodeHttp(i) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "/v1/secret/data/tenant", method: i % 2 === 0 ? "POST" : "GET", agent, headers: { "x-vault-token": "t", "content-type": "application/json" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve(JSON.parse(body)));
      },
    );
    req.on("error", reject);
    req.end(i % 2 === 0 ? JSON.stringify({ round: i }) : undefined);
  });
}

for (let i = 0; i < ROUNDS; i++) {
  await viaNodeHttp(i);
  const res = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
    method: "POST",
    body: "grant_type=client_credentials",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  await res.json();
}
for (let i = 0; i < 20; i++) {
  await new Promise((resolve, reject) => createReadStream(new URL(import.meta.url)).on("data", () => {}).on("end", resolve).on("error", reject));
}
agent.destroy();
server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
