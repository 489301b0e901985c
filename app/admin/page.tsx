import type { Metadata } from "next";
import { RoleForm } from "@/components/site/role-form";
import { listUsers } from "@/lib/auth/admin";
import { requirePageUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { readiness } from "@/lib/health";
import { keys, redis } from "@/lib/redis";

export const metadata: Metadata = { title: "Admin" };

export default async function AdminPage() {
  await requirePageUser("admin", "/admin");
  const [users, health] = await Promise.all([listUsers(), readiness(db(), redis(), keys())]);
  return (
    <div className="mx-auto max-w-6xl px-4 py-10">
      <h1 className="text-2xl font-bold tracking-tight">Admin</h1>

      <section aria-labelledby="health" className="mt-8">
        <h2 id="health" className="text-lg font-semibold">System</h2>
        <dl className="mt-3 grid gap-3 sm:grid-cols-3">
          {[
            ["Database", health.checks.database],
            ["Platform Redis", health.checks.redis],
            ["Runners", health.runners.length === 0 ? "none connected" : `${health.runners.length} connected`],
          ].map(([name, value]) => (
            <div key={name} className="rounded-lg border border-slate-200 p-4 dark:border-ink-800">
              <dt className="text-sm text-slate-600 dark:text-slate-400">{name}</dt>
              <dd className="mt-1 font-mono text-sm">{value}</dd>
            </div>
          ))}
        </dl>
        {health.runners.length > 0 && (
          <ul className="mt-3 text-sm text-slate-700 dark:text-slate-300">
            {health.runners.map((r) => (
              <li key={r.id} className="font-mono">{r.id} · sandbox: {r.sandbox} · last beat {new Date(r.beatAt).toLocaleTimeString("en-GB")}</li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="people" className="mt-10">
        <h2 id="people" className="text-lg font-semibold">People ({users.length})</h2>
        <div className="mt-3 overflow-x-auto rounded-lg border border-slate-200 dark:border-ink-800">
          <table className="w-full text-left text-sm">
            <thead className="bg-slate-50 dark:bg-ink-900">
              <tr>
                <th scope="col" className="px-4 py-2 font-semibold">Email</th>
                <th scope="col" className="px-4 py-2 font-semibold">Name</th>
                <th scope="col" className="px-4 py-2 font-semibold">Joined</th>
                <th scope="col" className="px-4 py-2 font-semibold">Role</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id} className="border-t border-slate-200 dark:border-ink-800">
                  <td className="px-4 py-2">{u.email}</td>
                  <td className="px-4 py-2">{u.name ?? "—"}</td>
                  <td className="px-4 py-2">{u.createdAt.toISOString().slice(0, 10)}</td>
                  <td className="px-4 py-2"><RoleForm userId={u.id} email={u.email} role={u.role} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
