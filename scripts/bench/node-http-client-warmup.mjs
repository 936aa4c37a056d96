// Loaded with `node --import` into the trivial grpc-js server by the A/B phase's `trivial+node-http-client` subject
// (scripts/bench/phase-ab.ts): before the server starts, the process makes the one kind of HTTP call scopegate's
// process makes, with the same two clients — node:http requests on a keep-alive agent, as the token endpoint's
// adapter (src/tokens/token-endpoint.ts) sends them, and axios requests, as node-vault sends them (axios's node:http
// adapter, with its own streams) — against a server in another process (the bench's Genesys stand-in, at
// SCOPEGATE_WARMUP_URL), then closes its agent. Unlike scripts/bench/http-clients-warmup.mjs it runs no HTTP server
// of its own, no fetch and no file streams: what is left is node's shared socket, stream and event code having seen
// node:http's client objects, and nothing scopegate's process does not do.
import http from "node:http";
import axios from "axios";

const ROUNDS = 300;
const base = process.env.SCOPEGATE_WARMUP_URL;
if (!base || !/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) throw new Error("node-http-client-warmup.mjs: SCOPEGATE_WARMUP_URL=http://127.0.0.1:<port> expected");
const agent = new http.Agent({ keepAlive: true });

/** One request; resolves with the status once the whole body has been read. */
function call(method, path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent, headers: { ...headers, ...(body ? { "content-length": Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

// node-vault's instance: every status is an answer (src/index.js in node-vault 0.12).
const vaultLike = axios.create({ validateStatus: () => true });

let answered = 0;
for (let i = 0; i < ROUNDS; i++) {
  // A token request with credentials the stand-in does not know (401, an OAuth error body), and a read through axios
  // (401 without a token): the shapes of a token mint and a Vault read, with nothing minted.
  const token = await call("POST", "/oauth/token", "grant_type=client_credentials", { authorization: `Basic ${Buffer.from("warm-up:none").toString("base64")}`, "content-type": "application/x-www-form-urlencoded" });
  const read = await vaultLike({ method: "GET", url: `${base}/api/v2/users/me`, httpAgent: agent, headers: { "X-Vault-Token": "none" } });
  if (token.body.length > 0 && read.status > 0) answered++;
}
agent.destroy();
if (answered !== ROUNDS) throw new Error(`node-http-client-warmup.mjs: ${answered} of ${ROUNDS} rounds answered`);
