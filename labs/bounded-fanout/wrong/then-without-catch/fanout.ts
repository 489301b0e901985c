/**
 * Runs fn over items with at most `limit` calls in flight and resolves with the results in input
 * order; rejects with the first failure, as it is, or with the signal's reason.
 */
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
  const isAsync = typeof source?.[Symbol.asyncIterator] === "function";
  if (!isAsync && typeof source?.[Symbol.iterator] !== "function") throw new TypeError("items must be iterable or async iterable");
  const signal = options?.signal;
  if (signal?.aborted) throw signal.reason;

  const iterator: Iterator<T> | AsyncIterator<T> = isAsync ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();

  return new Promise<R[]>((resolve, reject) => {
    const results: R[] = [];
    let count = 0; // items read so far: the next item's index
    let inFlight = 0;
    let reading = false; // an async read is under way
    let exhausted = false;
    let stopped = false;

    const cleanup = () => signal?.removeEventListener("abort", onAbort);

    // The first failure (or the abort) wins; everything after it is ignored.
    const fail = (error: unknown) => {
      if (stopped) return;
      stopped = true;
      cleanup();
      try {
        const closing = iterator.return?.();
        if (closing && typeof (closing as PromiseLike<unknown>).then === "function") (closing as Promise<unknown>).then(undefined, () => {});
      } catch {
        // a source that cannot close changes nothing: we already failed
      }
      reject(error);
    };
    const onAbort = () => fail(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });

    const finishIfDone = () => {
      if (!stopped && exhausted && inFlight === 0) {
        stopped = true;
        cleanup();
        resolve(results);
      }
    };

    const start = (item: T) => {
      const index = count++;
      inFlight += 1;
      let value: R | PromiseLike<R>;
      try {
        value = fn(item, index);
      } catch (error) {
        inFlight -= 1;
        fail(error); // a synchronous throw is a failure like any other
        return;
      }
      // Promise.resolve treats a plain value, a promise and a thenable alike. The handlers are
      // attached at once, so a late failure is never an unhandled rejection.
      const promise = Promise.resolve(value);
      promise.then((result) => {
        inFlight -= 1;
        if (stopped) return;
        results[index] = result;
        pump();
      });
      promise.catch((error: unknown) => {
        inFlight -= 1;
        fail(error);
      });
    };

    // Starts items while a slot is free. A loop, not recursion: a settled call comes back here
    // through a promise callback, so the stack never grows with the number of items.
    const pump = () => {
      while (!stopped && !exhausted && !reading && inFlight < limit) {
        if (isAsync) {
          reading = true;
          let next: Promise<IteratorResult<T>>;
          try {
            next = Promise.resolve((iterator as AsyncIterator<T>).next());
          } catch (error) {
            return fail(error);
          }
          next.then(
            (step) => {
              reading = false;
              if (stopped) return;
              if (step.done) exhausted = true;
              else start(step.value);
              pump();
              finishIfDone();
            },
            (error: unknown) => {
              reading = false;
              fail(error);
            },
          );
          return;
        }
        let step: IteratorResult<T>;
        try {
          step = (iterator as Iterator<T>).next();
        } catch (error) {
          return fail(error);
        }
        if (step.done) exhausted = true;
        else start(step.value);
      }
      finishIfDone();
    };

    pump();
  });
}
