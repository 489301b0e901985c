"use client";

import { useCallback, useMemo, useSyncExternalStore } from "react";
import { storageChanged, subscribeStorage } from "@/components/ui/local-storage";
import { PANEL_SIZES_KEY, parseSizes, storeSizes, type PanelSizes } from "./panel-sizes";

/** Panel sizes, remembered in localStorage; the server (and first paint) use the defaults. */
export function usePanelSizes() {
  const raw = useSyncExternalStore(
    subscribeStorage,
    () => localStorage.getItem(PANEL_SIZES_KEY),
    () => null,
  );
  const sizes = useMemo(() => parseSizes(raw), [raw]);
  const update = useCallback((next: PanelSizes) => {
    storeSizes(localStorage, next);
    storageChanged();
  }, []);
  return [sizes, update] as const;
}
