"use client";

import { useEffect, useRef, type ReactNode } from "react";

/**
 * A modal on the native <dialog>, opened with showModal(): the browser moves focus in, keeps it
 * there, closes on Escape and hands focus back to where it was. A click on the backdrop does
 * nothing, so a half-read confirmation is not dismissed by a stray click.
 */
export function Dialog({
  open,
  onClose,
  labelledBy,
  className,
  children,
}: {
  open: boolean;
  /** Called however the dialog closed (Escape included): the owner's `open` must follow. */
  onClose(): void;
  /** The id of the dialog's heading, its accessible name. */
  labelledBy: string;
  /** Size and padding; the frame, colours and backdrop are the dialog's own. */
  className: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      onClose={onClose}
      aria-labelledby={labelledBy}
      className={`m-auto rounded-xl border border-slate-200 bg-white text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-ink-700 dark:text-slate-100 ${className}`}
    >
      {children}
    </dialog>
  );
}
