/**
 * The client address to trust. With no proxy in front, it is the socket's peer and any
 * X-Forwarded-For the client sent is ignored (Next would otherwise keep it, letting a client
 * pick its own rate-limit bucket). With N trusted proxies, it is the Nth entry from the right.
 */
export function trustedClientIp(forwardedFor: string | string[] | undefined, socketAddress: string | undefined, trustedProxies: number): string {
  const peer = socketAddress ?? "unknown";
  if (trustedProxies === 0) return peer;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? "");
  const hops = header
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return hops[hops.length - trustedProxies] ?? hops[0] ?? peer;
}
