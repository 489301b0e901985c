"use server";

import { revalidatePath } from "next/cache";
import { redirect } from "next/navigation";
import { ZodError } from "zod";
import { requirePageUser } from "@/lib/auth/session";
import { cohortCatalog } from "@/lib/cohorts/catalog";
import { addInstructor, CohortError, createCohort, joinCohort, removeLearner, replaceInvite, updateCohort } from "@/lib/cohorts/cohorts";
import { removeRequirement, setRequirement } from "@/lib/cohorts/requirements";
import { db } from "@/lib/db";

export type FormState = { error?: string; done?: string } | null;

/** A refusal the person can act on comes back to the form; anything else is a real error. */
async function refusal(work: () => Promise<void>): Promise<string | null> {
  try {
    await work();
    return null;
  } catch (error) {
    if (error instanceof CohortError) return error.message;
    if (error instanceof ZodError) return error.issues[0]?.message ?? "Check the form and try again.";
    throw error;
  }
}

const text = (form: FormData, key: string) => String(form.get(key) ?? "");

export async function createCohortAction(_: FormState, form: FormData): Promise<FormState> {
  const user = await requirePageUser("instructor", "/cohorts");
  let id = "";
  const error = await refusal(async () => {
    id = (await createCohort(db(), user, { name: text(form, "name"), idleDays: text(form, "idleDays") || 7, stuckFails: text(form, "stuckFails") || 5 })).id;
  });
  if (error) return { error };
  redirect(`/cohorts/${id}`);
}

export async function updateCohortAction(cohortId: string, _: FormState, form: FormData): Promise<FormState> {
  const user = await requirePageUser("instructor", `/cohorts/${cohortId}`);
  const error = await refusal(async () => {
    await updateCohort(db(), user, cohortId, { name: text(form, "name"), idleDays: text(form, "idleDays"), stuckFails: text(form, "stuckFails") });
  });
  if (error) return { error };
  revalidatePath(`/cohorts/${cohortId}`);
  return { done: "Saved." };
}

export async function replaceInviteAction(cohortId: string, _: FormState): Promise<FormState> {
  const user = await requirePageUser("instructor", `/cohorts/${cohortId}`);
  const error = await refusal(async () => void (await replaceInvite(db(), user, cohortId)));
  if (error) return { error };
  revalidatePath(`/cohorts/${cohortId}`);
  return { done: "A new invite code is in place; the old link no longer works." };
}

export async function setRequirementAction(cohortId: string, _: FormState, form: FormData): Promise<FormState> {
  const user = await requirePageUser("instructor", `/cohorts/${cohortId}`);
  const error = await refusal(() =>
    setRequirement(
      db(),
      user,
      cohortId,
      { target: text(form, "target"), checks: form.getAll("checks").map(String), dueDate: text(form, "dueDate") },
      cohortCatalog(),
    ),
  );
  if (error) return { error };
  revalidatePath(`/cohorts/${cohortId}`);
  return { done: "Requirement saved. Learners see it on their pages." };
}

export async function removeRequirementAction(cohortId: string, requirementId: string): Promise<void> {
  const user = await requirePageUser("instructor", `/cohorts/${cohortId}`);
  await removeRequirement(db(), user, cohortId, requirementId);
  revalidatePath(`/cohorts/${cohortId}`);
}

export async function removeLearnerAction(cohortId: string, userId: string): Promise<void> {
  const user = await requirePageUser("instructor", `/cohorts/${cohortId}`);
  await removeLearner(db(), user, cohortId, userId);
  revalidatePath(`/cohorts/${cohortId}`);
  redirect(`/cohorts/${cohortId}`);
}

export async function addInstructorAction(cohortId: string, _: FormState, form: FormData): Promise<FormState> {
  const user = await requirePageUser("instructor", `/cohorts/${cohortId}`);
  let added = "";
  const error = await refusal(async () => {
    added = (await addInstructor(db(), user, cohortId, text(form, "email"))).email;
  });
  if (error) return { error };
  revalidatePath(`/cohorts/${cohortId}`);
  return { done: `${added} now teaches this cohort.` };
}

export async function joinCohortAction(_: FormState, form: FormData): Promise<FormState> {
  const code = text(form, "code");
  const user = await requirePageUser("learner", `/join/${encodeURIComponent(code)}`);
  let joined: { cohortId: string; name: string; already: boolean } | undefined;
  const error = await refusal(async () => {
    joined = await joinCohort(db(), user.id, code);
  });
  if (error || !joined) return { error: error ?? "Joining failed; try again." };
  revalidatePath("/");
  redirect(`/?joined=${encodeURIComponent(joined.cohortId)}#cohort`);
}
