/**
 * `npm run content:check`: loads the whole course against the labs and compiles and renders every
 * lesson and lab page (components/lesson/render-check.tsx), so
 * a malformed file (frontmatter, duplicate id, unknown lab or check, broken link, MDX that does
 * not compile, a component or expression that fails when the page renders) fails with the file,
 * the field and the fix.
 */
import path from "node:path";
import { renderCourseProblems } from "../components/lesson/render-check.tsx";
import { env } from "../lib/env.ts";
import { ContentError, loadCourse } from "../lib/content/loader.ts";
import { courseIds, readLock, unpublished } from "../lib/content/lock.ts";
import { LabError, labsDirFor, loadLabs } from "../lib/labs/loader.ts";

const started = performance.now();
try {
  // The course this deployment teaches (FAULTLINE_COURSE_DIR, as the app reads it), or one named on the command line.
  const courseDir = process.argv[2] ? path.resolve(process.argv[2]) : env().courseDir;
  const loadedLabs = loadLabs(labsDirFor(courseDir));
  const course = loadCourse(courseDir, loadedLabs);
  const lessons = course.milestones.flatMap((m) => m.lessons);
  const failures = await renderCourseProblems(course, loadedLabs);
  if (failures.length > 0) throw new ContentError(failures.join("\n"));
  const items = course.milestones.reduce((n, m) => n + m.milestone.checklist.length, 0);
  const fresh = unpublished(readLock(courseDir), courseIds(course, loadedLabs));
  if (fresh.length > 0)
    console.log(
      `${fresh.length} id(s) are not published yet (${fresh.slice(0, 3).join(", ")}${fresh.length > 3 ? ", …" : ""}); npm run content:publish records them once learners can earn credit for them.`,
    );
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  console.log(
    `content:check: ${count(course.milestones.length, "milestone")}, ${count(lessons.length, "lesson")}, ${count(items, "checklist item")}, ${count(loadedLabs.length, "lab")} with their instructions, all valid and rendered (${Math.round(performance.now() - started)} ms)`,
  );
} catch (error) {
  if (error instanceof ContentError || error instanceof LabError) {
    console.error(`${error.message}\n\ncontent:check failed.`);
    process.exit(1);
  }
  throw error;
}
