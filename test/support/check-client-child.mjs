// A separate process that calls Check once and prints what it got, as JSON on stdout: used to try Check as
// another uid/gid (spawned with { uid, gid } by check-callers.test.ts). Plain JS so it needs no loader.
// argv: <repoRoot> <target, e.g. unix:/path> <CheckRequest bytes, base64>
import { createRequire } from "node:module";

const [repoRoot, target, requestB64] = process.argv.slice(2);
const require = createRequire(`${repoRoot}/package.json`);
const grpc = require("@grpc/grpc-js");

const client = new grpc.Client(target, grpc.credentials.createInsecure());
client.makeUnaryRequest(
  "/envoy.service.auth.v3.Authorization/Check",
  (b) => b,
  (b) => b,
  Buffer.from(requestB64, "base64"),
  { deadline: Date.now() + 5000 },
  (err, res) => {
    client.close();
    const out = err ? { error: grpc.status[err.code], details: err.details } : { responseB64: res.toString("base64") };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  },
);
