const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options: { signal?: AbortSignal } = {},
): Promise<R[]> {
  if (typeof limit !== "number") throw new TypeError(`limit must be a number, got ${typeof limit}`);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number from 1 up, got ${limit}`);
  if (typeof fn !== "function") throw new TypeError("fn must be a function");
  const signal = options.signal;
  if (signal?.aborted) throw signal.reason;
  const results: R[] = [];
  let inFlight = 0;
  let index = 0;
  let failure = null as { error: unknown } | null;
  for await (const item of items) {
    // Wait for a free slot, checking every millisecond.
    while (inFlight >= limit && !failure) await sleep(1);
    if (failure) break;
    const i = index++;
    inFlight += 1;
    Promise.resolve()
      .then(() => fn(item, i))
      .then(
        (value) => {
          results[i] = value;
          inFlight -= 1;
        },
        (error: unknown) => {
          failure ??= { error };
          inFlight -= 1;
        },
      );
  }
  while (inFlight > 0 && !failure) await sleep(1);
  if (failure) throw failure.error;
  return results;
}
