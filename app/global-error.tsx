"use client";

// Shown only when the root layout itself fails, so it brings its own <html> and plain styles.
export default function GlobalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", maxWidth: 560, margin: "96px auto", padding: 16, textAlign: "center" }}>
        <h1>Faultline could not load this page</h1>
        <p>Nothing you saved is lost. {error.digest ? `Reference: ${error.digest}.` : ""}</p>
        <button type="button" onClick={reset}>
          Try again
        </button>
      </body>
    </html>
  );
}
