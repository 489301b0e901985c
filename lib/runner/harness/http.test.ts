import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpRequest } from "./http.ts";

let server: http.Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that answers every request with what it received, as JSON. */
async function echo(): Promise<number> {
  server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, body }));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("httpRequest", () => {
  it("sends a GET with no body and no extra headers by default", async () => {
    const port = await echo();
    const res = await httpRequest(port, "/x?y=1");
    const seen = JSON.parse(res.body) as { method: string; url: string; rawHeaders: string[]; body: string };
    expect(res.status).toBe(200);
    expect(seen).toMatchObject({ method: "GET", url: "/x?y=1", body: "" });
    expect(seen.rawHeaders.map((h) => h.toLowerCase())).not.toContain("authorization");
  });

  it("sends headers with their case kept, a header twice from an array, and a body", async () => {
    const port = await echo();
    const res = await httpRequest(
      port,
      "/tasks",
      "POST",
      2000,
      { authorization: "Bearer a", "X-Two": ["one", "two"], "content-type": "application/json" },
      '{"n":1}',
    );
    const seen = JSON.parse(res.body) as { method: string; rawHeaders: string[]; body: string };
    expect(seen.method).toBe("POST");
    expect(seen.body).toBe('{"n":1}');
    const pairs = seen.rawHeaders.flatMap((h, i) => (i % 2 === 0 ? [[h, seen.rawHeaders[i + 1]]] : []));
    expect(pairs).toContainEqual(["authorization", "Bearer a"]);
    expect(pairs.filter(([name]) => name === "X-Two")).toEqual([
      ["X-Two", "one"],
      ["X-Two", "two"],
    ]);
  });
});
