"use client";

import { signOut } from "next-auth/react";

export function SignOutButton() {
  return (
    <button
      type="button"
      onClick={() => void signOut({ callbackUrl: "/" })}
      className="w-full rounded px-3 py-2 text-left text-sm hover:bg-slate-100 dark:hover:bg-ink-700"
    >
      Sign out
    </button>
  );
}
