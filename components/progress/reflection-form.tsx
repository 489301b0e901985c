"use client";

import { useActionState, useState } from "react";
import type { ReflectionState } from "@/app/progress/actions";
import { Button } from "@/components/ui/button";
import { wordCount } from "@/lib/progress/rules";

/** A reflection for one checklist item; the text stays in the box whatever the server says. */
export function ReflectionForm({
  id,
  prompt,
  minWords,
  initial,
  action,
}: {
  id: string;
  prompt: string;
  minWords: number;
  initial: string;
  action: (state: ReflectionState, form: FormData) => Promise<ReflectionState>;
}) {
  const [state, submit, pending] = useActionState(action, {});
  const [text, setText] = useState(initial);
  const count = wordCount(text);
  return (
    <form action={submit} className="mt-3 space-y-2" id={id}>
      <label htmlFor={`${id}-text`} className="block text-sm font-medium">
        {prompt}
      </label>
      <textarea
        id={`${id}-text`}
        name="text"
        rows={5}
        value={text}
        onChange={(e) => setText(e.target.value)}
        aria-describedby={`${id}-count${state.error ? ` ${id}-error` : ""}`}
        className="w-full rounded-md border border-slate-300 bg-white p-2 text-sm dark:border-ink-600 dark:bg-ink-900"
      />
      <div className="flex flex-wrap items-center gap-3">
        <Button type="submit" variant="primary" size="sm" disabled={pending} className="disabled:opacity-60">
          {pending ? "Saving…" : initial ? "Update reflection" : "Save reflection"}
        </Button>
        <span id={`${id}-count`} className="text-sm text-slate-600 dark:text-slate-400">
          {count} of at least {minWords} words
        </span>
        <span role="status" className="text-sm text-emerald-800 dark:text-emerald-300">
          {state.savedAt && !pending ? "Saved." : ""}
        </span>
      </div>
      {state.error && (
        <p id={`${id}-error`} role="alert" className="rounded bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200">
          {state.error}
        </p>
      )}
    </form>
  );
}
