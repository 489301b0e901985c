/**
 * The grader's HTTP client for server labs, run inside the learner's sandbox by the host
 * (host.ts's `$http` builtin). Each sandbox has its own network namespace, so a learner's server
 * on 127.0.0.1 is reachable only from inside its own process's sandbox.
 */
import http from "node:http";

/**
 * Request headers as the grader sends them: a name's case is kept on the wire, and an array sends
 * the header once per value (two Authorization lines, for a lab that must refuse them).
 */
export type RequestHeaders = Record<string, string | string[]>;

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export function httpRequest(
  port: number,
  path: string,
  method = "GET",
  timeoutMs = 2000,
  headers: RequestHeaders = {},
  body: string | null = null,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, timeout: timeoutMs, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text = (text + d).slice(0, 65_536)));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: text, headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])) }),
      );
    });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.on("timeout", () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on("error", reject);
    if (body !== null) req.end(body);
    else req.end();
  });
}
