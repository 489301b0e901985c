/**
 * Runs fn over items with at most `limit` calls in flight and resolves with the results in input
 * order; rejects with the first failure, exactly as it was thrown, or with the signal's reason.
 * instructions.md states every rule the grader holds it to.
 */
export async function mapLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options: { signal?: AbortSignal } = {},
): Promise<R[]> {
  // TODO: check limit, items and fn first (which error for which mistake: instructions.md), and
  // reject with options.signal's reason if it is already aborted.
  // TODO: keep up to `limit` calls in flight instead of one at a time, and start the next item
  // in the same turn a slot frees. Store each result at its item's index.
  // TODO: on the first failure, reject at once with exactly what was thrown, start nothing more,
  // and close the source. Handle the failures of calls still in flight.
  // TODO: listen for options.signal's abort, and remove your listener when mapLimit settles.
  void options;
  void limit;
  const results: R[] = [];
  let index = 0;
  for await (const item of items) {
    results.push(await fn(item, index));
    index += 1;
  }
  return results;
}
