import Link from "next/link";
import { buttonClass } from "@/components/ui/button";
import type { ReactNode } from "react";

export function StatusPage({ code, title, children }: { code: string; title: string; children: ReactNode }) {
  return (
    <div className="mx-auto max-w-xl px-4 py-24 text-center">
      <p className="font-mono text-sm font-semibold text-brand-700 dark:text-brand-400">{code}</p>
      <h1 className="mt-2 text-3xl font-bold tracking-tight">{title}</h1>
      <div className="mt-4 text-slate-700 dark:text-slate-300">{children}</div>
      <Link href="/" className={buttonClass({ variant: "primary" }, "mt-8 inline-block")}>
        Back to the start
      </Link>
    </div>
  );
}
