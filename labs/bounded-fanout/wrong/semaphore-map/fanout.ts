/** At most `limit` holders at once; waiters are served first come, first served. */
class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.available = limit;
  }

  async acquire(): Promise<void> {
    if (this.available > 0) {
      this.available -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available += 1;
  }
}

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
  const semaphore = new Semaphore(limit);
  const list: T[] = [];
  for await (const item of items) list.push(item);
  return Promise.all(
    list.map(async (item, index) => {
      await semaphore.acquire();
      try {
        return await fn(item, index);
      } finally {
        semaphore.release(); // also on failure, or the permit leaks
      }
    }),
  );
}
