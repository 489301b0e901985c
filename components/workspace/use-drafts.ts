"use client";

import { useEffect, useLayoutEffect, useState, useSyncExternalStore } from "react";
import { DraftAutosave, type SaveState } from "./draft-autosave";

/** The learner's draft as React state: saved as they type, when the browser comes back online, and on leaving the page. */
export function useDrafts({
  api,
  signedIn,
  editable,
  initialFiles,
}: {
  api: string;
  signedIn: boolean;
  editable: readonly string[];
  initialFiles: Record<string, string>;
}): { drafts: DraftAutosave; save: SaveState } {
  const [drafts] = useState(() => new DraftAutosave({ api, signedIn, editable, initial: initialFiles }));
  useLayoutEffect(() => drafts.configure({ api, signedIn, editable }), [drafts, api, signedIn, editable]);
  const save = useSyncExternalStore(drafts.subscribe, drafts.getState, drafts.getState);

  // No cleanup of a pending save on unmount: moving to another page within the app still saves it.
  useEffect(() => {
    const online = () => void drafts.save();
    const hide = () => drafts.flush();
    window.addEventListener("online", online);
    window.addEventListener("pagehide", hide);
    return () => {
      window.removeEventListener("online", online);
      window.removeEventListener("pagehide", hide);
    };
  }, [drafts]);

  return { drafts, save };
}
