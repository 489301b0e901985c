import { randomUUID } from "node:crypto";
import { ZodError } from "zod";
import { RequestError } from "@/lib/errors";
import { log } from "@/lib/log";
import { JSON_BODY_MAX_BYTES, readBody } from "./body";

type Handler<C> = (request: Request, context: C & { requestId: string }) => Promise<Response>;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => Response.json(body, { status, headers });

/** The one recipe for route handlers: run, answer a RequestError (lib/errors.ts) with its own status at the edge, log one JSON line per request with its id. */
export function route<C>(handler: Handler<C>) {
  return async (request: Request, context: C): Promise<Response> => {
    // A proxy's id is kept (so one id follows a request through every hop) if it looks like one.
    const given = request.headers.get("x-request-id");
    const requestId = given && /^[\w.:-]{8,128}$/.test(given) ? given : randomUUID();
    const started = performance.now();
    const response = await respond(request, requestId, () => handler(request, { ...context, requestId }));
    response.headers.set("x-request-id", requestId);
    log.info("request", {
      requestId,
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
      ms: Math.round(performance.now() - started),
    });
    return response;
  };
}

async function respond(request: Request, requestId: string, run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ZodError) {
      return json(422, {
        error: error.issues[0]?.message ?? "Invalid input.",
        issues: error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
      });
    }
    if (error instanceof RequestError) return json(error.status, { error: error.message, ...error.details }, error.headers);
    log.error("request failed", { requestId, path: new URL(request.url).pathname, err: error });
    return json(500, { error: `Something went wrong on our side. Reference: ${requestId}`, requestId });
  }
}

/**
 * Reads a JSON body, turning a malformed one into a 422 rather than a 500, and one over `maxBytes`
 * into a 413 — counted while it streams in, whatever Content-Length says.
 */
export async function readJson(request: Request, maxBytes = JSON_BODY_MAX_BYTES): Promise<unknown> {
  const bytes = await readBody(request, maxBytes);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ZodError([{ code: "custom", path: [], message: "The request body must be JSON.", input: undefined }]);
  }
}
