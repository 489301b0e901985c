/**
 * This process's own figures, under the names Prometheus client libraries use for them, so stock
 * dashboards and alerts work. Unlike the platform metrics (read from Redis, the same from any
 * replica), these describe the web process that answered the scrape: scrape each replica.
 */
import type { Family } from "./exposition.ts";

const startedAt = Date.now() - process.uptime() * 1000;

export function processFamilies(): Family[] {
  const memory = process.memoryUsage();
  return [
    { name: "process_resident_memory_bytes", help: "Resident memory size in bytes.", type: "gauge", samples: [{ labels: {}, value: memory.rss }] },
    {
      name: "process_start_time_seconds",
      help: "Start time of the process since unix epoch in seconds.",
      type: "gauge",
      samples: [{ labels: {}, value: Math.round(startedAt / 1000) }],
    },
    {
      name: "nodejs_heap_size_used_bytes",
      help: "Process heap size used from Node.js in bytes.",
      type: "gauge",
      samples: [{ labels: {}, value: memory.heapUsed }],
    },
    {
      name: "nodejs_external_memory_bytes",
      help: "Node.js external memory size in bytes (Buffers and other memory outside the V8 heap).",
      type: "gauge",
      samples: [{ labels: {}, value: memory.external }],
    },
  ];
}
