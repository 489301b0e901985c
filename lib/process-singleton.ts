/**
 * One `T` per process under `name`, created on first use. Kept on globalThis because Next's dev
 * server evaluates modules again on every reload, and a module-level variable would open a new
 * client (a database pool, a Redis connection) each time.
 */
export function processSingleton<T>(name: string, create: () => T): T {
  const holder = globalThis as typeof globalThis & { __faultlineSingletons?: Map<string, unknown> };
  const singletons = (holder.__faultlineSingletons ??= new Map<string, unknown>());
  if (!singletons.has(name)) singletons.set(name, create());
  return singletons.get(name) as T;
}
