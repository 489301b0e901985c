/**
 * `npm run content:check`: loads the whole course against the labs and compiles every lesson, so
 * a malformed file (frontmatter, duplicate id, unknown lab or check, broken link, MDX that does
 * not compile) fails with the file, the field and the fix.
 */
import path from "node:path";
import { compileLesson } from "../lib/content/compile.ts";
import { env } from "../lib/env.ts";
import { ContentError, loadCourse } from "../lib/content/loader.ts";
import { LabError, loadLabs } from "../lib/labs/loader.ts";

const started = performance.now();
try {
  // The course this deployment teaches (FAULTLINE_COURSE_DIR, as the app reads it), or one named on the command line.
  const course = loadCourse(process.argv[2] ? path.resolve(process.argv[2]) : env().courseDir, loadLabs(path.resolve("labs")));
  const lessons = course.milestones.flatMap((m) => m.lessons);
  const failures: string[] = [];
  for (const lesson of lessons) {
    await compileLesson(lesson.body, lesson.file).catch((error: Error) => failures.push(error.message));
  }
  if (failures.length > 0) throw new ContentError(failures.join("\n"));
  const items = course.milestones.reduce((n, m) => n + m.milestone.checklist.length, 0);
  console.log(`content:check: ${course.milestones.length} milestones, ${lessons.length} lessons, ${items} checklist items, all valid (${Math.round(performance.now() - started)} ms)`);
} catch (error) {
  if (error instanceof ContentError || error instanceof LabError) {
    console.error(`${error.message}\n\ncontent:check failed.`);
    process.exit(1);
  }
  throw error;
}
