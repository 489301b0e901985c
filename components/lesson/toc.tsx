import type { Heading } from "@/lib/content/compile";

export function TableOfContents({ headings }: { headings: Heading[] }) {
  if (headings.length === 0) return null;
  return (
    <nav aria-label="On this page" className="text-sm">
      <p className="font-semibold text-slate-900 dark:text-white">On this page</p>
      <ol className="mt-2 space-y-1.5 border-l border-slate-200 dark:border-ink-700">
        {headings.map((h) => (
          <li key={h.id} className={h.depth === 3 ? "pl-6" : "pl-3"}>
            <a href={`#${h.id}`} className="text-slate-600 hover:text-brand-700 dark:text-slate-400 dark:hover:text-brand-400">
              {h.text}
            </a>
          </li>
        ))}
      </ol>
    </nav>
  );
}
