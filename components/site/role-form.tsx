"use client";

import { useActionState } from "react";
import { changeRoleAction } from "@/app/admin/actions";
import type { RoleName } from "@/lib/auth/roles";

export function RoleForm({ userId, email, role }: { userId: string; email: string; role: RoleName }) {
  const [error, action, pending] = useActionState(changeRoleAction, null);
  return (
    <form action={action} className="flex flex-wrap items-center gap-2">
      <input type="hidden" name="userId" value={userId} />
      <label className="sr-only" htmlFor={`role-${userId}`}>
        Role of {email}
      </label>
      <select
        id={`role-${userId}`}
        name="role"
        defaultValue={role}
        className="rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-ink-700 dark:bg-ink-900"
      >
        <option value="learner">learner</option>
        <option value="instructor">instructor</option>
        <option value="admin">admin</option>
      </select>
      <button
        type="submit"
        disabled={pending}
        className="rounded border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100 disabled:opacity-60 dark:border-ink-700 dark:hover:bg-ink-800"
      >
        {pending ? "Saving…" : "Save"}
      </button>
      {error && (
        <p role="alert" className="w-full text-sm text-red-700 dark:text-red-400">
          {error}
        </p>
      )}
    </form>
  );
}
