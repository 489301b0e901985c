import type { Metadata } from "next";
import Link from "next/link";
import { CreateCohortForm } from "@/components/cohorts/forms";
import { requirePageUser } from "@/lib/auth/session";
import { cohortsTaught } from "@/lib/cohorts/cohorts";
import { formatInviteCode } from "@/lib/cohorts/invite";
import { db } from "@/lib/db";

export const metadata: Metadata = { title: "Cohorts" };
export const dynamic = "force-dynamic";

export default async function CohortsPage() {
  const user = await requirePageUser("instructor", "/cohorts");
  const cohorts = await cohortsTaught(db(), user);
  return (
    <div className="mx-auto max-w-4xl px-4 py-10">
      <h1 className="text-2xl font-bold tracking-tight">Cohorts</h1>
      <p className="mt-2 text-slate-700 dark:text-slate-300">A cohort is a class: learners join it with an invite link, and you follow them on one grid.</p>
      <section aria-labelledby="yours" className="mt-8">
        <h2 id="yours" className="text-lg font-semibold">
          {user.role === "admin" ? "All cohorts" : "Cohorts you teach"}
        </h2>
        {cohorts.length === 0 ? (
          <p className="mt-2 text-slate-700 dark:text-slate-300">None yet. Create the first one below.</p>
        ) : (
          <ul className="mt-3 divide-y divide-slate-200 rounded-lg border border-slate-200 dark:divide-ink-800 dark:border-ink-800">
            {cohorts.map((c) => (
              <li key={c.id} className="flex flex-wrap items-baseline justify-between gap-2 px-4 py-3">
                <Link href={`/cohorts/${c.id}`} className="font-medium text-brand-700 underline dark:text-brand-400">
                  {c.name}
                </Link>
                <span className="text-sm text-slate-700 dark:text-slate-300">
                  {c.learners} {c.learners === 1 ? "learner" : "learners"} · code <span className="font-mono">{formatInviteCode(c.inviteCode)}</span> · created{" "}
                  {c.createdAt.toISOString().slice(0, 10)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="new" className="mt-10">
        <h2 id="new" className="mb-3 text-lg font-semibold">
          New cohort
        </h2>
        <CreateCohortForm />
      </section>
    </div>
  );
}
