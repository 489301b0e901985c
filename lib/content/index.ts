import "server-only";
import { env } from "../env.ts";
import { labCatalog } from "../labs/catalog.ts";
import { compileLesson } from "./compile.ts";
import { loadCourse, type Course, type CourseLesson, type CourseMilestone } from "./loader.ts";

/**
 * The course this server teaches, from `content/`. Production loads it once; development reloads
 * on every request, so an instructor's edit to an .mdx file shows on the next page load (or the
 * ContentError naming the file, the field and the fix).
 */
let cached: Course | undefined;

export function course(): Course {
  if (env().NODE_ENV !== "production") return loadCourse(env().courseDir, labCatalog());
  cached ??= loadCourse(env().courseDir, labCatalog());
  return cached;
}

export function findMilestone(slug: string): CourseMilestone | undefined {
  return course().milestones.find((m) => m.slug === slug);
}

export interface LessonPlace {
  milestone: CourseMilestone;
  lesson: CourseLesson;
  previous?: { milestone: CourseMilestone; lesson: CourseLesson };
  next?: { milestone: CourseMilestone; lesson: CourseLesson };
}

/** A lesson with its neighbours across the whole course, for previous/next links. */
export function findLesson(milestoneSlug: string, lessonSlug: string): LessonPlace | undefined {
  const all = course().milestones.flatMap((milestone) => milestone.lessons.map((lesson) => ({ milestone, lesson })));
  const at = all.findIndex((x) => x.milestone.slug === milestoneSlug && x.lesson.slug === lessonSlug);
  if (at === -1) return undefined;
  return { ...all[at]!, previous: all[at - 1], next: all[at + 1] };
}

export function findLessonById(id: string): { milestone: CourseMilestone; lesson: CourseLesson } | undefined {
  for (const milestone of course().milestones) {
    const lesson = milestone.lessons.find((l) => l.frontmatter.id === id);
    if (lesson) return { milestone, lesson };
  }
  return undefined;
}

export function lessonCode(lesson: CourseLesson): Promise<string> {
  return compileLesson(lesson.body, lesson.file, env().mdxCacheDir);
}
