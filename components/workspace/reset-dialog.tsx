"use client";

import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";

/** Asks before putting the starter back; Cancel has the focus, so Enter alone loses nothing. */
export function ResetDialog({ open, onConfirm, onClose }: { open: boolean; onConfirm(): void; onClose(): void }) {
  return (
    <Dialog open={open} onClose={onClose} labelledBy="confirm-title" className="max-w-md p-6 dark:bg-ink-900">
      <h2 id="confirm-title" className="text-lg font-semibold">
        Reset to the starter?
      </h2>
      <div className="mt-2 text-sm text-slate-700 dark:text-slate-300">
        <p>
          Your files go back to the lab&apos;s starter code. Your current code is not lost: it stays in your draft history, and Undo in the editor brings it
          back.
        </p>
      </div>
      <div className="mt-5 flex justify-end gap-2">
        <Button type="button" variant="tool-secondary" autoFocus onClick={onClose}>
          Cancel
        </Button>
        <Button type="button" variant="tool-danger" onClick={onConfirm}>
          Reset to starter
        </Button>
      </div>
    </Dialog>
  );
}
