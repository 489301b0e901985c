import type { Metadata } from "next";
import { RoleForm } from "@/components/site/role-form";
import { listUsers } from "@/lib/auth/admin";
import { requirePageUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { systemHealth } from "@/lib/health";
import { webRunQueues } from "@/lib/runs/queue";
import { keys, redis } from "@/lib/redis";

export const metadata: Metadata = { title: "Admin" };

export const dynamic = "force-dynamic";

export default async function AdminPage() {
  await requirePageUser("admin", "/admin");
  const [users, health] = await Promise.all([listUsers(), systemHealth(db(), redis(), keys(), webRunQueues())]);
  const slots = health.fleet.reduce((n, r) => n + r.concurrency, 0);
  return (
    <div className="mx-auto max-w-6xl px-4 py-10">
      <h1 className="text-2xl font-bold tracking-tight">Admin</h1>

      <section aria-labelledby="health" className="mt-8">
        <h2 id="health" className="text-lg font-semibold">
          System
        </h2>
        <dl className="mt-3 grid gap-3 sm:grid-cols-3 lg:grid-cols-5">
          {[
            ["Database", health.checks.database],
            ["Platform Redis", health.checks.redis],
            ["Runners", health.fleet.length === 0 ? "none connected" : `${health.fleet.length} connected · ${slots} slots`],
            ["Checks", health.queue ? `${health.queue.check.waiting} waiting · ${health.queue.check.active} running` : "could not be read"],
            ["Playground runs", health.queue ? `${health.queue.run.waiting} waiting · ${health.queue.run.active} running` : "could not be read"],
          ].map(([name, value]) => (
            <div key={name} className="rounded-lg border border-slate-200 p-4 dark:border-ink-800">
              <dt className="text-sm text-slate-600 dark:text-slate-400">{name}</dt>
              <dd className="mt-1 font-mono text-sm" data-testid={`health-${name!.toLowerCase().replaceAll(" ", "-")}`}>
                {value}
              </dd>
            </div>
          ))}
        </dl>
        {health.warning && (
          <p
            role="status"
            className="mt-3 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200"
          >
            {health.warning}
          </p>
        )}
        {health.fleet.length > 0 && (
          <div className="mt-4 overflow-x-auto rounded-lg border border-slate-200 dark:border-ink-800">
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Runner processes with a live heartbeat</caption>
              <thead className="bg-slate-50 dark:bg-ink-900">
                <tr>
                  {["Runner", "Host · pid", "Sandbox tier", "Runs at once", "Up since (UTC)", "Last heartbeat"].map((h) => (
                    <th key={h} scope="col" className="px-4 py-2 font-semibold">
                      {h}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {health.fleet.map((r) => (
                  <tr key={r.id} className="border-t border-slate-200 dark:border-ink-800">
                    <td className="px-4 py-2 font-mono text-xs">{r.id}</td>
                    <td className="px-4 py-2">
                      {r.host} · {r.pid}
                    </td>
                    <td className="px-4 py-2">
                      {r.sandbox}
                      {r.sandbox !== "bubblewrap" && (
                        <span className="ml-2 rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-900 dark:bg-amber-900/50 dark:text-amber-200">
                          weaker than bubblewrap
                        </span>
                      )}
                    </td>
                    <td className="px-4 py-2">
                      {r.concurrency} checks · {r.playgroundConcurrency ?? 0} playground
                    </td>
                    <td className="px-4 py-2">{r.startedAt.replace("T", " ").slice(0, 19)}</td>
                    <td className="px-4 py-2">{(r.ageMs / 1000).toFixed(1)} s ago</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">
          Prometheus metrics for the whole platform are at{" "}
          <a href="/api/metrics" className="underline">
            /api/metrics
          </a>
          .
        </p>
      </section>

      <section aria-labelledby="people" className="mt-10">
        <h2 id="people" className="text-lg font-semibold">
          People ({users.length})
        </h2>
        <div className="mt-3 overflow-x-auto rounded-lg border border-slate-200 dark:border-ink-800">
          <table className="w-full text-left text-sm">
            <thead className="bg-slate-50 dark:bg-ink-900">
              <tr>
                <th scope="col" className="px-4 py-2 font-semibold">
                  Email
                </th>
                <th scope="col" className="px-4 py-2 font-semibold">
                  Name
                </th>
                <th scope="col" className="px-4 py-2 font-semibold">
                  Joined
                </th>
                <th scope="col" className="px-4 py-2 font-semibold">
                  Role
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id} className="border-t border-slate-200 dark:border-ink-800">
                  <td className="px-4 py-2">{u.email}</td>
                  <td className="px-4 py-2">{u.name ?? "—"}</td>
                  <td className="px-4 py-2">{u.createdAt.toISOString().slice(0, 10)}</td>
                  <td className="px-4 py-2">
                    <RoleForm userId={u.id} email={u.email} role={u.role} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
