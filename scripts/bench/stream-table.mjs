// node:http2 on its own, without scopegate or grpc-js: does a long-lived connection promote its requests into the
// old generation once its streams table is old, and does src/server/stream-table-renewal.ts stop it?
//
//   npm run build && node scripts/bench/stream-table.mjs
//
// For each case a fresh server process (this file with "server <renew-every>") answers every request on one
// HTTP/2 connection after 2 ms (so two or three streams are open at a time, as behind Envoy when checks take a
// few ms); the client (this process) sends 1,000 requests/s for 2 s, the server then runs one full GC with the
// connection open (what any mark-compact during traffic does), and the next 10 s are measured: bytes promoted
// per request (old space growth over each scavenge, v8.GCProfiler) and full GCs per second in the server.
import { spawn } from "node:child_process";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { promotedAndFull } from "./gc-summary.mjs";

const self = fileURLToPath(import.meta.url);
const RATE = 1000;

if (process.argv[2] === "server") {
  const every = Number(process.argv[3]);
  if (every > 0) {
    const { renewStreamTables } = await import(new URL("../../dist/server/stream-table-renewal.js", import.meta.url).href);
    renewStreamTables({ every, onUnavailable: (reason) => process.stderr.write(`renewal unavailable: ${reason}\n`) });
  }
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  let profiler;
  let requests = 0;
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    if (headers[":path"] === "/gc") {
      gc();
      profiler = new v8.GCProfiler();
      profiler.start();
      requests = 0;
      stream.respond({ ":status": 200 });
      return void stream.end();
    }
    if (headers[":path"] === "/report") {
      stream.respond({ ":status": 200 });
      return void stream.end(JSON.stringify({ requests, ...promotedAndFull(profiler.stop().statistics) }));
    }
    requests++;
    const body = JSON.stringify({ path: headers[":path"], at: Date.now(), pad: "x".repeat(512) });
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end(body);
    }, 2);
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
} else {
  for (const every of [0, 64, 0, 64]) {
    const child = spawn(process.execPath, [self, "server", String(every)], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const get = (path) =>
      new Promise((resolve, reject) => {
        const req = client.request({ ":path": path });
        let body = "";
        req.setEncoding("utf8");
        req.on("data", (c) => (body += c));
        req.on("end", () => resolve(body));
        req.on("error", reject);
      });
    const load = async (seconds) => {
      const pending = [];
      const start = performance.now();
      for (let i = 0; i < RATE * seconds; i++) {
        const due = start + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        pending.push(get(`/r/${i % 100}`));
      }
      await Promise.all(pending);
    };
    await load(2);
    await get("/gc");
    await load(10);
    const r = JSON.parse(await get("/report"));
    process.stdout.write(
      `${every === 0 ? "never renewed      " : `renewed every ${String(every).padEnd(5)}`} ${(r.promoted / r.requests).toFixed(0).padStart(6)} B promoted per request, ${(r.full / 10).toFixed(1).padStart(4)} full GCs/s (${r.requests.toLocaleString("en-US")} requests)\n`,
    );
    client.close();
    child.kill();
  }
}
