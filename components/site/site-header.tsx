import Link from "next/link";
import { buttonClass } from "@/components/ui/button";
import { currentUser } from "@/lib/auth/session";
import { env } from "@/lib/env";
import { ThemeToggle } from "./theme-toggle";
import { UserMenu } from "./user-menu";

export async function SiteHeader() {
  const user = await currentUser();
  const local = env().FAULTLINE_AUTH === "local";
  return (
    <header className="border-b border-slate-200 bg-white/80 backdrop-blur dark:border-ink-800 dark:bg-ink-950/80">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:rounded focus:bg-white focus:px-3 focus:py-2 dark:focus:bg-ink-800"
      >
        Skip to content
      </a>
      <div className="mx-auto flex h-14 max-w-6xl items-center gap-6 px-4">
        <Link href="/" className="flex items-center gap-2 font-semibold tracking-tight">
          <span aria-hidden="true" className="font-mono text-brand-600 dark:text-brand-400">
            ⌁
          </span>
          Faultline
        </Link>
        <nav aria-label="Main" className="flex items-center gap-4 text-sm text-slate-700 dark:text-slate-300">
          <Link href="/#course" className="hover:text-slate-950 dark:hover:text-white">
            Course
          </Link>
          {user && (
            <Link href="/progress" className="hover:text-slate-950 dark:hover:text-white">
              Progress
            </Link>
          )}
          {user && user.role !== "learner" && (
            <Link href="/cohorts" className="hover:text-slate-950 dark:hover:text-white">
              Cohorts
            </Link>
          )}
          {user?.role === "admin" && (
            <Link href="/admin" className="hover:text-slate-950 dark:hover:text-white">
              Admin
            </Link>
          )}
        </nav>
        <div className="ml-auto flex items-center gap-3">
          <ThemeToggle />
          {user ? (
            <UserMenu user={user} local={local} />
          ) : (
            <>
              <Link href="/signin" className="text-sm font-medium hover:underline">
                Sign in
              </Link>
              <Link href="/signup" className={buttonClass({ variant: "primary", size: "sm" })}>
                Sign up
              </Link>
            </>
          )}
        </div>
      </div>
    </header>
  );
}
