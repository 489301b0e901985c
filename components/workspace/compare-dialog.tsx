"use client";

import dynamic from "next/dynamic";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";

const DiffView = dynamic(() => import("./diff-view"), {
  ssr: false,
  loading: () => <p className="p-4 text-sm text-slate-600 dark:text-slate-400">Loading the comparison…</p>,
});

/** The learner's files beside the reference solution, nearly full screen; the diff editor loads only when it opens. */
export function CompareDialog({
  open,
  paths,
  mine,
  solution,
  monacoVs,
  onCheckReference,
  onClose,
}: {
  open: boolean;
  paths: string[];
  mine: Record<string, string>;
  solution: Record<string, string> | null;
  monacoVs: string;
  onCheckReference(): void;
  onClose(): void;
}) {
  return (
    <Dialog open={open} onClose={onClose} labelledBy="compare-title" className="h-[85vh] w-[90vw] max-w-none p-0 dark:bg-ink-950">
      <div className="flex h-full flex-col">
        <div className="flex shrink-0 items-center border-b border-slate-200 px-4 py-2 dark:border-ink-700">
          <h2 id="compare-title" className="font-semibold">
            Your code and the reference solution
          </h2>
          <Button type="button" variant="tool-secondary" onClick={onCheckReference} className="ml-auto">
            Check the reference solution
          </Button>
          <Button type="button" variant="tool-secondary" onClick={onClose} className="ml-2">
            Close
          </Button>
        </div>
        <div className="min-h-0 flex-1">{open && solution && <DiffView paths={paths} mine={mine} solution={solution} vs={monacoVs} />}</div>
      </div>
    </Dialog>
  );
}
