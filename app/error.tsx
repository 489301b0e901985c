"use client";

import { useEffect } from "react";
import { Button } from "@/components/ui/button";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => console.error(error), [error]);
  return (
    <div className="mx-auto max-w-xl px-4 py-24 text-center">
      <p className="font-mono text-sm font-semibold text-brand-700 dark:text-brand-400">500</p>
      <h1 className="mt-2 text-3xl font-bold tracking-tight">Something broke on our side</h1>
      <p className="mt-4 text-slate-700 dark:text-slate-300">
        Nothing you saved is lost. Try again; if it keeps happening, tell your instructor
        {error.digest ? (
          <>
            {" "}
            and quote reference <code className="font-mono">{error.digest}</code>
          </>
        ) : null}
        .
      </p>
      {process.env.NODE_ENV === "development" && (
        // Only a development server passes the real message to the browser: there it is the
        // author's own machine, and a content mistake is theirs to read and fix (file, field, fix).
        <section
          aria-labelledby="author-error"
          className="mt-8 rounded-lg border border-amber-300 bg-amber-50 p-4 text-left dark:border-amber-700 dark:bg-amber-950"
        >
          <h2 id="author-error" className="font-semibold text-amber-900 dark:text-amber-200">
            For the author (shown in development only)
          </h2>
          <pre className="mt-2 whitespace-pre-wrap break-words font-mono text-sm text-amber-950 dark:text-amber-100">{error.message}</pre>
          <p className="mt-2 text-sm text-amber-900 dark:text-amber-200">npm run content:check lists every problem in the course.</p>
        </section>
      )}
      <Button type="button" variant="primary" onClick={reset} className="mt-8">
        Try again
      </Button>
    </div>
  );
}
