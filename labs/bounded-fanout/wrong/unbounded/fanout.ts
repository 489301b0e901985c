/** Runs fn over items and resolves with the results in input order. */
export async function mapLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options: { signal?: AbortSignal } = {},
): Promise<R[]> {
  if (typeof limit !== "number") throw new TypeError(`limit must be a number, got ${typeof limit}`);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number from 1 up, got ${limit}`);
  if (typeof fn !== "function") throw new TypeError("fn must be a function");
  if (options.signal?.aborted) throw options.signal.reason;
  // Promise.all keeps the order and rejects with the first failure: it does everything we need.
  const calls: Promise<R>[] = [];
  let index = 0;
  for await (const item of items) {
    const i = index++;
    calls.push(Promise.resolve().then(() => fn(item, i)));
  }
  return Promise.all(calls);
}
