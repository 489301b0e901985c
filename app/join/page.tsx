import type { Metadata } from "next";
import { JoinForm } from "@/components/cohorts/forms";
import { requirePageUser } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Join a cohort" };
export const dynamic = "force-dynamic";

export default async function JoinPage() {
  await requirePageUser("learner", "/join");
  return (
    <div className="mx-auto max-w-xl px-4 py-10">
      <h1 className="text-2xl font-bold tracking-tight">Join a cohort</h1>
      <p className="mt-2 mb-6 text-slate-700 dark:text-slate-300">
        Type the code your instructor gave you, or paste their invite link. Your instructor will see your progress; your code and runs stay yours.
      </p>
      <JoinForm />
    </div>
  );
}
