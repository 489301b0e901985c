import type { ComponentType } from "react";
import type { Lab } from "@/lib/labs/schema";
import type { Milestone, QuizQuestion } from "@/lib/content/schema";
import type { MilestoneGrade } from "@/lib/progress/grade";
import { Callout, Diagram, Hint } from "./callout";
import { Checklist } from "./checklist";
import { LabCard } from "./lab-card";
import { Quiz } from "./quiz";

export interface LessonContext {
  labs: Map<string, Lab>;
  milestone: Milestone;
  grade: MilestoneGrade | null;
  quiz: {
    questions: QuizQuestion[];
    answers: Map<string, { choice: number; correct: boolean }>;
    signedIn: boolean;
    action: (form: FormData) => Promise<void>;
    error?: string;
    returnTo: string;
  };
}

/**
 * Every component a lesson may use, by the name it is written with in MDX. The lesson page and
 * `content:check` both render with this map, so a lesson that names anything else, or an
 * expression that is not defined, fails the check instead of answering 500 to learners.
 */
export function lessonComponents(ctx: LessonContext): Record<string, ComponentType<never>> {
  return {
    Callout,
    Hint,
    Diagram,
    Lab: ({ id }: { id: string }) => <LabCard lab={ctx.labs.get(id)} />,
    Quiz: () => <Quiz {...ctx.quiz} />,
    Checklist: () => <Checklist milestone={ctx.milestone} grade={ctx.grade} />,
  } as Record<string, ComponentType<never>>;
}

/** What a lab's instructions may use: prose components, nothing that needs a lesson around it. */
export const instructionComponents: Record<string, ComponentType<never>> = { Callout, Hint, Diagram } as Record<string, ComponentType<never>>;
