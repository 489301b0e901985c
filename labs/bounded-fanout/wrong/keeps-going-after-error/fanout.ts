/** Runs fn over items with `limit` runner loops sharing one iterator; results in input order. */
export async function mapLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options: { signal?: AbortSignal } = {},
): Promise<R[]> {
  if (typeof limit !== "number") throw new TypeError(`limit must be a number, got ${typeof limit}`);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number from 1 up, got ${limit}`);
  if (typeof fn !== "function") throw new TypeError("fn must be a function");
  const source = items as Partial<Iterable<T> & AsyncIterable<T>> | null | undefined;
  const iterator = typeof source?.[Symbol.asyncIterator] === "function" ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : typeof source?.[Symbol.iterator] === "function" ? (items as Iterable<T>)[Symbol.iterator]() : null;
  if (!iterator) throw new TypeError("items must be iterable or async iterable");
  const signal = options.signal;
  if (signal?.aborted) throw signal.reason;
  const results: R[] = [];
  let index = 0;
  let done = false;
  // Each runner takes the next item, runs it, stores the result at its index, and goes on.
  const runner = async () => {
    while (!done && !signal?.aborted) {
      const i = index++;
      const step = await iterator.next();
      if (step.done) {
        done = true;
        return;
      }
      results[i] = await fn(step.value, i);
    }
    if (signal?.aborted) throw signal.reason;
  };
  const runners = Array.from({ length: Math.min(limit, 1000) }, runner);
  // Promise.all rejects with the first runner that fails.
  await Promise.all(runners);
  return results;
}
