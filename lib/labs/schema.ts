/**
 * What an instructor writes in `labs/<slug>/lab.json`. Every field is described, and the JSON
 * Schema generated from this (`labJsonSchema()`) gives editors completion and hover help.
 */
import { z } from "zod";
import { labFileName } from "../runner/files.ts";

/** The one way a milestone is named in milestone.json ("code") and in a lab's lab.json ("milestone"); content/ reads labs, so it lives here. */
export const MilestoneCodeSchema = z.string().regex(/^(M[1-9]|Capstone)$/, "use M1 … M9 or Capstone");

const slug = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "use lower-case words joined by '-', e.g. priority-queue");
const fileName = z.string().regex(labFileName, "use a relative path ending in .ts, .json, .yml or .yaml, or a Dockerfile, e.g. queue.ts");
const command = z.string().regex(/^[A-Z][A-Z0-9|]*$/, "use an upper-case Redis command name, e.g. ZADD");

export const LabCheckSchema = z.object({
  id: slug.describe("Stable id of the check. Checklist items and wrong/ variants name it; never rename it once learners have run the lab."),
  title: z.string().min(3).max(120).describe("What the check proves, as the learner reads it: 'concurrent consumers never share a task'."),
});

export const LabWrongSchema = z.object({
  dir: slug.describe("Folder under wrong/ holding this known-wrong variant's files."),
  catches: slug.describe("Id of the check that must fail for this variant."),
  why: z.string().min(10).describe("The mistake this variant makes, e.g. 'claims a task with ZRANGE then ZREM, not atomically'."),
});

export const LabSchema = z
  .strictObject({
    $schema: z.string().optional().describe("Path to lab.schema.json, for editor help."),
    id: slug.describe("Stable id that progress is recorded against. Keep it when renaming the folder."),
    slug: slug.describe("Must equal the lab's folder name; it appears in URLs (/labs/<slug>)."),
    title: z.string().min(3).max(80).describe("Title shown on the lab page and in the course map."),
    milestone: MilestoneCodeSchema.describe('The code of the milestone that lists the lab (its milestone.json "code": M1 … M9 or Capstone).'),
    summary: z.string().min(10).max(400).describe("One or two sentences: what the learner builds."),
    minutes: z.number().int().min(5).max(600).describe("Estimated minutes for a learner."),
    files: z
      .array(
        z.object({
          path: fileName.describe("File the learner sees, relative to starter/ and solution/."),
          editable: z.boolean().default(true).describe("false shows it read-only in the editor."),
        }),
      )
      .min(1)
      .describe("The learner's files, in editor tab order. starter/ and solution/ must each contain every one."),
    redis: z
      .object({
        allow: z
          .union([z.literal("all"), z.array(command).min(1)])
          .default("all")
          .describe("Commands the chaos proxy lets the learner's code send; 'all' is every command the learner ACL permits."),
        budgets: z
          .object({
            commands: z.number().int().positive().optional().describe("Most commands per run."),
            bytes: z.number().int().positive().optional().describe("Most bytes the learner may send per run."),
            connections: z.number().int().positive().optional().describe("Most connections open at once."),
            valueBytes: z.number().int().positive().optional().describe("Largest single argument in bytes."),
          })
          .default({})
          .describe("Per-run budgets the proxy enforces."),
      })
      .default({ allow: "all", budgets: {} })
      .describe("How the learner's code may use its private Redis."),
    checks: z.array(LabCheckSchema).min(1).describe("The checks checks.ts implements, in the order they run."),
    wrong: z
      .array(LabWrongSchema)
      .min(3, "a lab needs at least three known-wrong variants")
      .describe("Known-wrong variants that labs:verify proves each fail their named check."),
    hints: z.array(z.string().min(10)).default([]).describe("Progressive hints, unlocked one at a time: gentle first, specific last."),
    finalHintAfter: z
      .number()
      .int()
      .min(0)
      .max(50)
      .default(3)
      .describe(
        "Failed graded runs a learner needs before the last (most specific) hint unlocks, so it is read after trying, not instead. 0: no wait. Passing the lab unlocks it too.",
      ),
  })
  .superRefine((lab, ctx) => {
    const ids = new Set<string>();
    lab.checks.forEach((c, i) => {
      if (ids.has(c.id)) ctx.addIssue({ code: "custom", path: ["checks", i, "id"], message: `check id '${c.id}' is used twice; give each check its own id` });
      ids.add(c.id);
    });
    lab.wrong.forEach((w, i) => {
      if (!ids.has(w.catches))
        ctx.addIssue({
          code: "custom",
          path: ["wrong", i, "catches"],
          message: `names check '${w.catches}', which is not in checks; use one of ${[...ids].join(", ")}`,
        });
    });
  });

export type Lab = z.infer<typeof LabSchema>;

export function labJsonSchema(): unknown {
  return z.toJSONSchema(LabSchema, { io: "input", unrepresentable: "any" });
}
