/**
 * `npm run content:publish [courseDir]`: records the ids learners can hold credit for in the
 * course's course.lock.json (lib/content/lock.ts). Run it when a course version goes to learners,
 * and commit the file. It refuses, as content:check does, while a published id is gone without a
 * migration that says what happens to the credit earned for it.
 */
import path from "node:path";
import { env } from "../lib/env.ts";
import { ContentError, loadCourse } from "../lib/content/loader.ts";
import { courseIds, LOCK_FILE, LockError, publish, readLock, unpublished, writeLock } from "../lib/content/lock.ts";
import { LabError, labsDirFor, loadLabs } from "../lib/labs/loader.ts";

const courseDir = process.argv[2] ? path.resolve(process.argv[2]) : env().courseDir;
try {
  const labs = loadLabs(labsDirFor(courseDir));
  const course = loadCourse(courseDir, labs); // refuses a course whose lock it would break
  const lock = readLock(courseDir);
  const now = courseIds(course, labs);
  const added = unpublished(lock, now);
  writeLock(courseDir, publish(lock, now));
  const file = path.relative(process.cwd(), path.join(courseDir, LOCK_FILE));
  console.log(
    added.length === 0
      ? `content:publish: ${file} already lists every id; nothing to add.`
      : `content:publish: ${file} now lists ${added.length} more id(s):\n  ${added.join("\n  ")}\nCommit it: from now on these can only be renamed or removed with a migration.`,
  );
} catch (error) {
  if (error instanceof ContentError || error instanceof LabError || error instanceof LockError) {
    console.error(`${error.message}\n\ncontent:publish refused; nothing was written.`);
    process.exit(1);
  }
  throw error;
}
