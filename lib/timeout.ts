/**
 * `work`, or a rejection with `message` once `ms` pass first. The timer is cleared when `work`
 * settles and never keeps the process alive by itself.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms).unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
