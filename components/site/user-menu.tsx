import Link from "next/link";
import type { AccountUser } from "@/lib/auth/accounts";
import { SignOutButton } from "../auth/sign-out-button";
import { MenuDetails } from "./menu-details";

/** A native <details> menu: keyboard and screen-reader friendly, closed again on navigation. */
export function UserMenu({ user, local }: { user: AccountUser; local: boolean }) {
  const label = user.name || user.email;
  return (
    <MenuDetails className="relative">
      <summary
        aria-label={`Account menu for ${label}`}
        className="flex cursor-pointer list-none items-center gap-2 rounded-md border border-slate-200 px-3 py-1.5 text-sm hover:bg-slate-100 dark:border-ink-700 dark:hover:bg-ink-800"
      >
        <span aria-hidden="true" className="grid h-6 w-6 place-items-center rounded-full bg-brand-500 text-xs font-bold text-white">
          {label.slice(0, 1).toUpperCase()}
        </span>
        <span className="max-w-40 truncate">{label}</span>
      </summary>
      <div className="absolute right-0 z-20 mt-2 w-60 rounded-lg border border-slate-200 bg-white p-2 shadow-lg dark:border-ink-700 dark:bg-ink-800">
        <p className="px-3 py-2 text-xs text-slate-600 dark:text-slate-300">
          Signed in as <strong className="block truncate text-slate-900 dark:text-white">{user.email}</strong>
          Role: <span data-testid="user-role">{user.role}</span>
        </p>
        <Link href="/join" className="block rounded px-3 py-2 text-sm hover:bg-slate-100 dark:hover:bg-ink-700">
          Join a cohort
        </Link>
        {user.role === "admin" && (
          <Link href="/admin" className="block rounded px-3 py-2 text-sm hover:bg-slate-100 dark:hover:bg-ink-700">
            Admin
          </Link>
        )}
        {local ? <p className="px-3 py-2 text-xs text-slate-600 dark:text-slate-300">Local mode: no sign-out needed.</p> : <SignOutButton />}
      </div>
    </MenuDetails>
  );
}
