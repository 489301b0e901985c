/** Runs fn over items, `limit` at a time, and resolves with the results in input order. */
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
  let batch: { item: T; index: number }[] = [];
  let index = 0;
  // Run a batch of `limit` items at once, wait for all of them, then the next batch.
  const runBatch = async () => {
    const values = await Promise.all(batch.map(({ item, index }) => fn(item, index)));
    batch.forEach(({ index }, k) => (results[index] = values[k]!));
    batch = [];
    if (signal?.aborted) throw signal.reason;
  };
  for await (const item of items) {
    batch.push({ item, index: index++ });
    if (batch.length === limit) await runBatch();
  }
  if (batch.length > 0) await runBatch();
  return results;
}
