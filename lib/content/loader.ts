/**
 * Loads the course from `content/` and checks it against itself and the labs, failing with the
 * file, the field and the fix (STYLE.md "Content and labs fail fast"): bad frontmatter, a
 * duplicate id, a lab or check that does not exist, a quiz item naming a lesson without a quiz,
 * a broken internal link.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import matter from "gray-matter";
import type { LoadedLab } from "../labs/loader.ts";
import { readJsonFile } from "../json-error.ts";
import { courseIds, LOCK_FILE, lockProblems, readLock } from "./lock.ts";
import { CourseJsonSchema, LessonFrontmatterSchema, MilestoneSchema, type CourseJson, type LessonFrontmatter, type Milestone } from "./schema.ts";

export interface CourseLesson {
  /** URL segment: the file name without its number and extension. */
  slug: string;
  order: number;
  file: string;
  frontmatter: LessonFrontmatter;
  /** The MDX body, without frontmatter. */
  body: string;
}

export interface CourseMilestone {
  slug: string;
  order: number;
  dir: string;
  milestone: Milestone;
  lessons: CourseLesson[];
}

export interface Course {
  milestones: CourseMilestone[];
  /** The home page's words for this course (course.json), defaults filled in. */
  home: Required<Omit<CourseJson, "$schema">>;
}

export class ContentError extends Error {
  override name = "ContentError";
}

const ordered = /^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)(\.mdx)?$/;

function zodProblems(where: string, error: { issues: { path: PropertyKey[]; message: string }[] }): string[] {
  return error.issues.map((i) => `${where}: ${i.path.map(String).join(".") || "(top level)"}: ${i.message}`);
}

/** A file as its author finds it: relative to where the command runs, or absolute when outside it. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith("..") ? relative : file;
}

function loadLesson(dir: string, file: string, problems: string[]): CourseLesson | null {
  const where = shown(path.join(dir, file));
  const [, order, slug] = ordered.exec(file) ?? [];
  if (!order || !slug) {
    problems.push(`${where}: lesson files are named NN-slug.mdx, e.g. 01-event-loop.mdx; rename it.`);
    return null;
  }
  let parsed: matter.GrayMatterFile<string>;
  try {
    parsed = matter(readFileSync(path.join(dir, file), "utf8"));
  } catch (error) {
    problems.push(`${where}: the frontmatter is not valid YAML (${(error as Error).message.split("\n")[0]}).`);
    return null;
  }
  const frontmatter = LessonFrontmatterSchema.safeParse(parsed.data);
  if (!frontmatter.success) {
    problems.push(...zodProblems(`${where} frontmatter`, frontmatter.error));
    return null;
  }
  return { slug, order: Number(order), file: where, frontmatter: frontmatter.data, body: parsed.content };
}

function loadMilestone(contentDir: string, folder: string, problems: string[]): CourseMilestone | null {
  const dir = path.join(contentDir, folder);
  const where = shown(path.join(dir, "milestone.json"));
  const [, order, slug] = ordered.exec(folder) ?? [];
  if (!order || !slug) {
    problems.push(`${shown(dir)}: milestone folders are named NN-slug, e.g. 01-foundations; rename it.`);
    return null;
  }
  if (!existsSync(path.join(dir, "milestone.json"))) {
    problems.push(`${where}: missing; every milestone folder needs one (copy another milestone's).`);
    return null;
  }
  const read = readJsonFile(path.join(dir, "milestone.json"));
  if (!read.ok) {
    problems.push(`${where}: ${read.problem}.`);
    return null;
  }
  const parsed = MilestoneSchema.safeParse(read.value);
  if (!parsed.success) {
    problems.push(...zodProblems(where, parsed.error));
    return null;
  }
  const files = readdirSync(dir).filter((f) => f.endsWith(".mdx")).sort();
  const lessons = files.map((f) => loadLesson(dir, f, problems)).filter((l): l is CourseLesson => l !== null);
  return { slug, order: Number(order), dir, milestone: parsed.data, lessons };
}

/** Where each internal URL points, for link checking. */
function knownUrls(course: Course, labs: LoadedLab[]): Set<string> {
  const urls = new Set<string>(["/", "/progress"]);
  for (const m of course.milestones) {
    urls.add(`/learn/${m.slug}`);
    for (const l of m.lessons) urls.add(`/learn/${m.slug}/${l.slug}`);
  }
  for (const { lab } of labs) urls.add(`/labs/${lab.slug}`);
  return urls;
}

function crossCheck(course: Course, labs: LoadedLab[], problems: string[]): void {
  const labById = new Map(labs.map((l) => [l.lab.id, l.lab]));
  const lessonById = new Map<string, CourseLesson>();
  const milestoneIds = new Map<string, string>();
  const urls = knownUrls(course, labs);
  const listings = new Map<string, { code: string; at: string }[]>();
  for (const m of course.milestones) {
    const where = shown(path.join(m.dir, "milestone.json"));
    const other = milestoneIds.get(m.milestone.id);
    if (other) problems.push(`${where}: id '${m.milestone.id}' is also used by ${other}; milestone ids must be unique.`);
    milestoneIds.set(m.milestone.id, where);
    for (const l of m.lessons) {
      const dup = lessonById.get(l.frontmatter.id);
      if (dup) problems.push(`${l.file}: id '${l.frontmatter.id}' is also used by ${dup.file}; lesson ids must be unique.`);
      lessonById.set(l.frontmatter.id, l);
    }
    m.milestone.labs.forEach((lab, i) => {
      const exists = labById.has(lab.id);
      if (!lab.planned && !exists) problems.push(`${where}: labs.${i}: lab '${lab.id}' is not among the course's labs; create it (npm run lab:new ${lab.id}), or mark it "planned": true.`);
      if (lab.planned && exists) problems.push(`${where}: labs.${i}: lab '${lab.id}' exists now; set "planned": false so learners can open it.`);
      if (exists) listings.set(lab.id, [...(listings.get(lab.id) ?? []), { code: m.milestone.code, at: `${where}: labs.${i}` }]);
    });
  }
  // A lab may be listed by more than one milestone (a drill reusing it), but one of them must be
  // the milestone its lab.json names, or its page and the course map disagree about where it is.
  for (const [id, listed] of listings) {
    const own = labById.get(id)!;
    if (!listed.some((l) => l.code === own.milestone)) problems.push(`${listed[0]!.at}: lab '${id}' says it belongs to ${own.milestone} (its lab.json "milestone"), but ${listed.length === 1 ? "this milestone is" : "the milestones listing it are"} ${listed.map((l) => l.code).join(", ")}; make them agree.`);
  }
  for (const m of course.milestones) {
    const where = shown(path.join(m.dir, "milestone.json"));
    const seen = new Set<string>();
    m.milestone.checklist.forEach((item, i) => {
      const at = `${where}: checklist.${i} (${item.id})`;
      if (seen.has(item.id)) problems.push(`${at}: id '${item.id}' is used twice in this checklist.`);
      seen.add(item.id);
      const by = item.satisfiedBy;
      if (by.kind === "checks") {
        const listed = m.milestone.labs.find((l) => l.id === by.lab);
        if (!listed) problems.push(`${at}: names lab '${by.lab}', which is not in this milestone's labs; add it there.`);
        const lab = labById.get(by.lab);
        if (lab) {
          const ids = new Set(lab.checks.map((c) => c.id));
          for (const check of by.checks) if (!ids.has(check)) problems.push(`${at}: lab '${by.lab}' has no check '${check}'; its checks are ${[...ids].join(", ")}.`);
        }
      } else if (by.kind === "quiz") {
        for (const lessonId of by.lessons) {
          const lesson = lessonById.get(lessonId);
          if (!lesson) problems.push(`${at}: names lesson '${lessonId}', which does not exist.`);
          else if (lesson.frontmatter.quiz.length === 0) problems.push(`${at}: lesson '${lessonId}' has no quiz; add questions to its frontmatter or name another lesson.`);
        }
      }
    });
    for (const l of m.lessons) {
      for (const labId of l.frontmatter.labs) if (!labById.has(labId)) problems.push(`${l.file} frontmatter: labs: no lab '${labId}' is among the course's labs.`);
      for (const [, labId] of l.body.matchAll(/<Lab\s+id="([^"]*)"/g)) {
        if (!labById.has(labId!)) problems.push(`${l.file}: <Lab id="${labId}" /> names a lab that does not exist.`);
      }
      if (/<Quiz\b/.test(l.body) && l.frontmatter.quiz.length === 0) problems.push(`${l.file}: uses <Quiz /> but its frontmatter has no quiz questions.`);
      for (const [, url] of l.body.matchAll(/\]\((\/[^)\s#]*)(?:#[^)\s]*)?\)/g)) {
        if (!urls.has(url!.replace(/\/$/, "") || "/")) problems.push(`${l.file}: the link ${url} leads nowhere; use /learn/<milestone>/<lesson> or /labs/<lab>.`);
      }
    }
  }
}

function loadHome(contentDir: string, count: number, problems: string[]): Course["home"] {
  const defaults = {
    tagline: "Learn distributed systems by breaking them",
    headline: "Build a task queue. Then watch us try to break it.",
    intro: `Faultline is a hands-on course in ${count === 1 ? "one milestone" : `${count} milestones`}. You write TypeScript in the browser against a live Redis; a grader kills your workers mid-task, cuts the network and delivers duplicates, and tells you exactly what broke and why.`,
    summary: "One system, kept and grown through every milestone: a Redis-backed task queue with producers, workers and a dashboard.",
  };
  const file = path.join(contentDir, "course.json");
  if (!existsSync(file)) return defaults;
  const read = readJsonFile(file);
  if (!read.ok) {
    problems.push(`${shown(file)}: ${read.problem}.`);
    return defaults;
  }
  const parsed = CourseJsonSchema.safeParse(read.value);
  if (!parsed.success) {
    problems.push(...zodProblems(shown(file), parsed.error));
    return defaults;
  }
  const { $schema: _, ...words } = parsed.data satisfies CourseJson;
  return { ...defaults, ...words };
}

export function loadCourse(contentDir: string, labs: LoadedLab[]): Course {
  const problems: string[] = [];
  // A course's own labs/ sits beside its milestones (labsDirFor); it is not a milestone.
  const folders = existsSync(contentDir) ? readdirSync(contentDir).filter((f) => f !== "labs" && statSync(path.join(contentDir, f)).isDirectory()).sort() : [];
  const milestones = folders.map((f) => loadMilestone(contentDir, f, problems)).filter((m): m is CourseMilestone => m !== null);
  const course = { milestones, home: loadHome(contentDir, milestones.length, problems) };
  // A file that did not load would show again as every reference to it going nowhere: cross
  // checks wait until each file loads on its own.
  if (problems.length === 0) crossCheck(course, labs, problems);
  // Only a course that loaded is compared with its lock: a broken lesson is reported as itself,
  // not as every id it would have held going missing.
  if (problems.length === 0) {
    try {
      const lock = readLock(contentDir);
      if (lock) problems.push(...lockProblems(lock, courseIds(course, labs), path.join(contentDir, LOCK_FILE)));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new ContentError(problems.join("\n"));
  return course;
}
