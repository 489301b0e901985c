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
  const results: Promise<R>[] = [];
  const executing = new Set<Promise<unknown>>();
  let index = 0;
  for await (const item of items) {
    const i = index++;
    const call = Promise.resolve().then(() => fn(item, i));
    results.push(call);
    // Leaves the executing set when it is done.
    const running: Promise<unknown> = call.then(() => executing.delete(running));
    executing.add(running);
    // Full: wait for any one of them to finish (or fail, which ends the loop).
    if (executing.size >= limit) await Promise.race(executing);
  }
  return Promise.all(results);
}
