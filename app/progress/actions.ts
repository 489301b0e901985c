"use server";

import { revalidatePath } from "next/cache";
import { redirect } from "next/navigation";
import { requirePageUser } from "@/lib/auth/session";
import { course } from "@/lib/content";
import { db } from "@/lib/db";
import { CertificateError, issueCertificate } from "@/lib/progress/certificates";
import { quizIndex } from "@/lib/progress/quiz-index";
import { ReflectionInputError, saveReflection } from "@/lib/progress/reflections";

const milestoneOf = (id: string) => course().milestones.find((m) => m.milestone.id === id)?.milestone;

export interface ReflectionState {
  error?: string;
  savedAt?: string;
}

/** Saves a reflection; a refusal comes back to the form, which keeps the learner's text. */
export async function saveReflectionAction(milestoneId: string, itemId: string, _previous: ReflectionState, form: FormData): Promise<ReflectionState> {
  const user = await requirePageUser("learner", "/progress");
  const milestone = milestoneOf(milestoneId);
  if (!milestone) return { error: "This milestone no longer exists; reload the page." };
  try {
    await saveReflection(db(), user.id, milestone, itemId, form.get("text"));
  } catch (error) {
    if (error instanceof ReflectionInputError) return { error: error.message };
    throw error;
  }
  revalidatePath("/progress");
  return { savedAt: new Date().toISOString() };
}

export async function issueCertificateAction(milestoneId: string): Promise<void> {
  const user = await requirePageUser("learner", "/progress");
  const milestone = milestoneOf(milestoneId);
  if (!milestone) redirect("/progress");
  let id: string;
  try {
    id = await issueCertificate(db(), user, milestone, quizIndex());
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    redirect(`/progress?error=${encodeURIComponent(error.message)}#${milestoneId}`);
  }
  redirect(`/certificates/${id}`);
}
