/**
 * What the chaos proxy costs per command: N sequential GETs straight to a run's private Redis,
 * then the same through the proxy with no faults. Prints per-command latency for each and the
 * difference. Run: node --import tsx bench/chaos-proxy.ts [N=5000]
 */
import path from "node:path";
import { Redis } from "ioredis";
import { ChaosProxy } from "../lib/runner/chaos-proxy.ts";
import { startPrivateRedis } from "../lib/runner/private-redis.ts";

const n = Number(process.argv[2] ?? 5000);
const instance = await startPrivateRedis();
const proxyPath = path.join(instance.dir, "proxy.sock");
const proxy = new ChaosProxy({
  listenPath: proxyPath,
  upstreamPath: instance.socketPath,
  upstreamUser: instance.learner.user,
  upstreamPassword: instance.learner.password,
  seed: 1,
});
await proxy.start();

async function perCommandMicros(client: Redis): Promise<number> {
  await client.set("k", "v");
  for (let i = 0; i < 500; i++) await client.get("k"); // warm up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await client.get("k");
  return ((performance.now() - t0) * 1000) / n;
}

const direct = new Redis({ path: instance.socketPath, username: instance.learner.user, password: instance.learner.password, enableReadyCheck: false });
const proxied = new Redis({ path: proxyPath, enableReadyCheck: false, disableClientInfo: true });
const d = await perCommandMicros(direct);
const p = await perCommandMicros(proxied);
console.log(`private redis-server start: ${instance.startMs.toFixed(1)} ms`);
console.log(`GET direct:        ${d.toFixed(1)} µs/command (n=${n})`);
console.log(`GET through proxy: ${p.toFixed(1)} µs/command`);
console.log(`proxy cost:        ${(p - d).toFixed(1)} µs/command, ${proxy.log.length} log entries kept`);
direct.disconnect();
proxied.disconnect();
await proxy.stop();
await instance.stop();
