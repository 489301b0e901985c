/**
 * The one base for errors a person's request can cause and fix. Each carries the HTTP status it is
 * answered with and a message written for that person; domain errors extend it beside their
 * modules (CohortError in lib/cohorts, RunRequestError in lib/runs, …). The route wrapper
 * (app/api/_lib/route.ts) answers every one the same way and server actions show the message;
 * any other error is a fault of ours, answered 500 with a reference.
 */
export class RequestError extends Error {
  override name = "RequestError";
  constructor(
    readonly status: number,
    message: string,
    /** Fields of the JSON answer beside `error`: the form field at fault, compile diagnostics. */
    readonly details: Record<string, unknown> = {},
    /** Headers of the answer, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
