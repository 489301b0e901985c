"use client";

import { useEffect } from "react";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => console.error(error), [error]);
  return (
    <div className="mx-auto max-w-xl px-4 py-24 text-center">
      <p className="font-mono text-sm font-semibold text-brand-700 dark:text-brand-400">500</p>
      <h1 className="mt-2 text-3xl font-bold tracking-tight">Something broke on our side</h1>
      <p className="mt-4 text-slate-700 dark:text-slate-300">
        Nothing you saved is lost. Try again; if it keeps happening, tell your instructor
        {error.digest ? <> and quote reference <code className="font-mono">{error.digest}</code></> : null}.
      </p>
      <button type="button" onClick={reset} className="mt-8 rounded-md bg-brand-700 px-4 py-2 font-semibold text-white hover:bg-brand-800">Try again</button>
    </div>
  );
}
