/** Runs fn over items with `limit` runner loops sharing one iterator; results in input order. */
export async function mapLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options: { signal?: AbortSignal } = {},
): Promise<R[]> {
  if (typeof limit !== "number") throw new TypeError("limit must be a number");
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError("bad limit");
  if (typeof fn !== "function") throw new TypeError("fn must be a function");
  const src = items as Partial<Iterable<T> & AsyncIterable<T>> | null | undefined;
  const it = typeof src?.[Symbol.asyncIterator] === "function" ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : typeof src?.[Symbol.iterator] === "function" ? (items as Iterable<T>)[Symbol.iterator]() : null;
  if (!it) throw new TypeError("items must be iterable");
  const { signal } = options;
  if (signal?.aborted) throw signal.reason;

  const results: R[] = [];
  let next = 0;
  let runners = 0;
  let done = false;
  let stopped = false;
  let settle!: { resolve: (v: R[]) => void; reject: (e: unknown) => void };
  const result = new Promise<R[]>((resolve, reject) => (settle = { resolve, reject }));
  const stop = (error: unknown) => {
    if (stopped) return;
    stopped = true;
    signal?.removeEventListener("abort", onAbort);
    try {
      void Promise.resolve(it.return?.()).catch(() => {});
    } catch {
      // ignore
    }
    settle.reject(error);
  };
  const onAbort = () => stop(signal!.reason);
  signal?.addEventListener("abort", onAbort);

  const runner = async () => {
    try {
      while (!stopped && !done) {
        let step: IteratorResult<T>;
        try {
          step = await it.next();
        } catch (error) {
          stop(error);
          return;
        }
        if (stopped) return;
        if (step.done) {
          done = true;
          return;
        }
        const index = next++;
        try {
          results[index] = await fn(step.value, index);
        } catch (error) {
          stop(error);
          return;
        }
      }
    } finally {
      runners -= 1;
      if (runners === 0 && !stopped) {
        stopped = true;
        signal?.removeEventListener("abort", onAbort);
        settle.resolve(results);
      }
    }
  };
  // One runner per slot.
  runners = limit;
  Array.from({ length: limit }, () => void runner());
  return result;
}
