/**
 * What an instructor writes in `content/`: `<NN-slug>/milestone.json` and `<NN-slug>/<NN-slug>.mdx`
 * frontmatter. Every field is described; `milestoneJsonSchema()` feeds editors.
 */
import { z } from "zod";
import { MilestoneCodeSchema } from "../labs/schema.ts";

export { MilestoneCodeSchema };

const id = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "use lower-case words joined by '-', e.g. wire-protocol");

export const ChecklistItemSchema = z.strictObject({
  id: id.describe("Stable id progress is recorded against; never rename it once learners have progress."),
  title: z.string().min(3).max(120).describe("What the learner can do, as a checklist line: 'Speak a wire protocol'."),
  description: z.string().min(10).max(400).describe("One sentence on what satisfying it proves."),
  satisfiedBy: z
    .discriminatedUnion("kind", [
      z.strictObject({
        kind: z.literal("checks"),
        lab: id.describe("Id of the lab (lab.json id)."),
        checks: z.array(id).min(1).describe("Check ids of that lab; passing all of them in one graded run satisfies the item."),
        partial: z.boolean().default(false).describe("true: passing some of the checks in one run earns that share of the item. @default false"),
      }),
      z.strictObject({ kind: z.literal("quiz"), lessons: z.array(id).min(1).describe("Lesson ids whose quizzes must all be answered correctly.") }),
      z.strictObject({
        kind: z.literal("reflection"),
        prompt: z.string().min(10).describe("The question the learner answers in writing."),
        minWords: z.number().int().min(10).max(1000).default(60).describe("Shortest acceptable answer, in words. @default 60"),
      }),
    ])
    .describe("How the item is satisfied: named lab checks, lesson quizzes, or a written reflection."),
  weight: z.number().int().min(1).max(10).default(1).describe("How much the item counts towards the milestone's grade, relative to the others. @default 1"),
});

export const MilestoneLabSchema = z.strictObject({
  id: id.describe("The lab's id (its folder under labs/)."),
  title: z.string().min(3).max(80).describe("Title on the milestone page."),
  summary: z.string().min(10).max(400).optional().describe("One sentence on what the learner builds."),
  planned: z.boolean().default(false).describe("true while the lab is not written yet; it shows as 'in preparation'."),
});

export const MilestoneSchema = z.strictObject({
  $schema: z.string().optional().describe("Path to milestone.schema.json, for editor help."),
  id: z.string().regex(/^(m[1-9]|capstone)$/, "use m1 … m9 or capstone").describe("Stable id of the milestone."),
  code: MilestoneCodeSchema.describe("Short label shown on the course map; a lab's lab.json names its milestone by it."),
  title: z.string().min(3).max(100).describe("The milestone's title."),
  summary: z.string().min(10).max(400).describe("One or two sentences for the course map."),
  passPercent: z.number().int().min(1).max(100).default(80).describe("Weighted share of the checklist (in %) needed to pass the milestone. @default 80"),
  labs: z.array(MilestoneLabSchema).default([]).describe("The milestone's labs, in order."),
  checklist: z.array(ChecklistItemSchema).min(1).describe("What the learner must show; the milestone's grade comes from it."),
});

export const QuizQuestionSchema = z
  .strictObject({
    id: id.describe("Stable id of the question; answers are stored against it."),
    prompt: z.string().min(5).describe("The question."),
    choices: z.array(z.string().min(1)).min(2).max(6).describe("Possible answers, shown in this order."),
    answer: z.number().int().min(0).describe("0-based index of the correct choice."),
    explanation: z.string().min(10).describe("Shown after answering: why the answer is right and the others are not."),
  })
  .refine((q) => q.answer < q.choices.length, { message: "answer must be the index of one of the choices (0-based)", path: ["answer"] });

export const LessonFrontmatterSchema = z.strictObject({
  id: id.describe("Stable id of the lesson, e.g. m1-event-loop; progress is recorded against it."),
  title: z.string().min(3).max(100).describe("The lesson's title."),
  summary: z.string().min(10).max(300).describe("One sentence on the milestone page."),
  minutes: z.number().int().min(1).max(180).describe("Estimated reading time."),
  objectives: z.array(z.string().min(5)).min(1).describe("What the learner can do afterwards."),
  labs: z.array(id).default([]).describe("Ids of labs the lesson leads into."),
  quiz: z.array(QuizQuestionSchema).default([]).describe("Multiple-choice questions <Quiz /> renders; graded on the server."),
});

export type Milestone = z.infer<typeof MilestoneSchema>;
export type ChecklistItem = z.infer<typeof ChecklistItemSchema>;
export type LessonFrontmatter = z.infer<typeof LessonFrontmatterSchema>;
export type QuizQuestion = z.infer<typeof QuizQuestionSchema>;

export function milestoneJsonSchema(): unknown {
  return z.toJSONSchema(MilestoneSchema, { io: "input", unrepresentable: "any" });
}

/** The JSON Schema of a lesson's frontmatter (content/lesson.schema.json), for editors and reference. */
export function lessonJsonSchema(): unknown {
  return z.toJSONSchema(LessonFrontmatterSchema, { io: "input", unrepresentable: "any" });
}

/** The JSON Schema of course.json (content/course.schema.json). */
export function courseJsonSchema(): unknown {
  return z.toJSONSchema(CourseJsonSchema, { io: "input", unrepresentable: "any" });
}

/**
 * `course.json` in the course folder (optional): the words the home page says about the course,
 * so a bootcamp's own course does not arrive with Faultline's. Unset fields keep the defaults.
 */
export const CourseJsonSchema = z
  .object({
    $schema: z.string().optional(),
    tagline: z.string().min(3).max(80).optional().describe("The small line above the headline."),
    headline: z.string().min(3).max(120).optional().describe("The home page's main heading."),
    intro: z.string().min(10).max(600).optional().describe("The paragraph under the headline."),
    summary: z.string().min(10).max(400).optional().describe("The line above the list of milestones."),
  })
  .strict();

export type CourseJson = z.infer<typeof CourseJsonSchema>;
