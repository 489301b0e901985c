import type { Metadata } from "next";
import Link from "next/link";
import { JoinForm } from "@/components/cohorts/forms";
import { buttonClass } from "@/components/ui/button";
import { currentUser } from "@/lib/auth/session";
import { previewInvite } from "@/lib/cohorts/cohorts";
import { formatInviteCode } from "@/lib/cohorts/invite";
import { db } from "@/lib/db";

export const metadata: Metadata = { title: "Join a cohort" };
export const dynamic = "force-dynamic";

/** An invite link: who it is for, then one button (or sign-up/sign-in that come back here). */
export default async function JoinByLinkPage({ params }: { params: Promise<{ code: string }> }) {
  const { code } = await params;
  const [user, cohort] = await Promise.all([currentUser(), previewInvite(db(), decodeURIComponent(code))]);
  const here = `/join/${encodeURIComponent(code)}`;
  return (
    <div className="mx-auto max-w-xl px-4 py-10">
      {!cohort ? (
        <>
          <h1 className="text-2xl font-bold tracking-tight">This invite does not work</h1>
          <p className="mt-2 text-slate-700 dark:text-slate-300">
            No cohort has the code in this link. Your instructor may have replaced it with a new one; ask them for the current link, or{" "}
            <Link href="/join" className="underline">
              type a code
            </Link>
            .
          </p>
        </>
      ) : (
        <>
          <h1 className="text-2xl font-bold tracking-tight">Join {cohort.name}</h1>
          <p className="mt-2 mb-6 text-slate-700 dark:text-slate-300">
            Invite code <span className="font-mono">{formatInviteCode(cohort.code)}</span> · {cohort.learners} {cohort.learners === 1 ? "learner" : "learners"}{" "}
            so far. Your instructor will see your grades, runs and submitted code for this course.
          </p>
          {user ? (
            <JoinForm code={cohort.code} cohortName={cohort.name} />
          ) : (
            <p className="flex flex-wrap gap-3">
              <Link href={`/signup?callbackUrl=${encodeURIComponent(here)}`} className={buttonClass({ variant: "primary" })}>
                Create an account to join
              </Link>
              <Link href={`/signin?callbackUrl=${encodeURIComponent(here)}`} className={buttonClass({ variant: "secondary" }, "font-medium")}>
                Sign in to join
              </Link>
            </p>
          )}
        </>
      )}
    </div>
  );
}
