import type { Metadata } from "next";
import type { ReactNode } from "react";
import { SiteHeader } from "@/components/site/site-header";
import { ThemeScript } from "@/components/site/theme-script";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Faultline: learn distributed systems by breaking them", template: "%s · Faultline" },
  description: "Build a Redis task queue in TypeScript, milestone by milestone, while a grader kills workers, cuts Redis and delivers duplicates.",
};

export const dynamic = "force-dynamic";

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <ThemeScript />
      </head>
      <body className="min-h-screen">
        <SiteHeader />
        <main id="main">{children}</main>
        <footer className="mx-auto max-w-6xl px-4 py-10 text-sm text-slate-600 dark:text-slate-400">
          Faultline is open and self-hostable. Break things here, not in production.
        </footer>
      </body>
    </html>
  );
}
