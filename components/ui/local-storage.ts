/**
 * localStorage as an external store for `useSyncExternalStore`. The browser tells other tabs of a
 * change (the "storage" event), never the tab that made it: that tab calls `storageChanged()`.
 */
const listeners = new Set<() => void>();

export function subscribeStorage(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("storage", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", listener);
  };
}

/** Call after writing localStorage, so this tab's subscribers read it again. */
export function storageChanged(): void {
  listeners.forEach((listener) => listener());
}
