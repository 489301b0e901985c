/**
 * The eight milestones as the home page presents them. The content loader (content/<NN-milestone>/
 * milestone.json) supersedes this when the lessons land.
 */
export const milestones = [
  { code: "M1", title: "Foundations", summary: "Processes, TCP and the event loop. Speak RESP to Redis over a raw socket, serve many clients, bound your concurrency." },
  { code: "M2", title: "Containers and local orchestration", summary: "Images, compose, health checks and a worker that shuts down gracefully when it gets SIGTERM mid-task." },
  { code: "M3", title: "Observability", summary: "Structured logs, Prometheus metrics, trace context through a queue, and a readiness probe that tells the truth." },
  { code: "M4", title: "Resilience", summary: "Timeouts, retries with jitter, circuit breakers, bulkheads and fallbacks, graded against a dependency that fails on purpose." },
  { code: "M5", title: "Queues, data and consistency", summary: "The task queue itself: leases, redelivery, dead letters, idempotency, outbox, streams and sagas." },
  { code: "M6", title: "Security", summary: "Signed tasks with replay protection, an exact token-bucket rate limiter in Lua, and role checks on an API." },
  { code: "M7", title: "Scale and optimisation", summary: "Caches that survive stampedes, backpressure, consistent hashing, pipelining and an autoscaler." },
  { code: "Capstone", title: "A content ingestion pipeline", summary: "Everything together, then the failure drills: killed workers, cut Redis, duplicates, a slow consumer." },
] as const;
