import { expect, test } from "vitest";
import { lockProblems, publish, translateIds, unpublished, type CourseIds, type Migration } from "./lock.ts";

const ids = (o: Partial<CourseIds>): CourseIds => ({ milestone: [], item: [], lesson: [], lab: [], check: [], ...o });
const published = ids({ milestone: ["m5"], item: ["m5/saga"], lesson: ["m5-sagas"], lab: ["saga"], check: ["saga/happy-path", "saga/compensates-in-reverse"] });
const lock = (migrations: Migration[] = []) => ({ ...publish(null, published), migrations });

test("a course that still has every published id is fine, and new ids are only unpublished", () => {
  const now = ids({ ...published, check: [...published.check, "saga/redis-faults"] });
  expect(lockProblems(lock(), now, "course.lock.json")).toEqual([]);
  expect(unpublished(lock(), now)).toEqual(["check saga/redis-faults"]);
});

test("renaming a published check fails until a migration says where its credit goes", () => {
  const now = ids({ ...published, check: ["saga/happy-path", "saga/compensates-last-first"] });
  const [problem] = lockProblems(lock(), now, "course.lock.json");
  expect(problem).toMatch(/^course\.lock\.json: the check 'saga\/compensates-in-reverse' is published and learners may hold credit for it, but the course no longer has it\. If you renamed it, add \{ "kind": "check", "from": "saga\/compensates-in-reverse", "to": "<its new id>"/);
  expect(lockProblems(lock([{ kind: "check", from: "saga/compensates-in-reverse", to: "saga/compensates-last-first", why: "clearer" }]), now, "f")).toEqual([]);
  expect(lockProblems(lock([{ kind: "check", from: "saga/compensates-in-reverse", to: null, why: "folded into failure-at-each-step" }]), now, "f")).toEqual([]);
  expect(lockProblems(lock([{ kind: "check", from: "saga/compensates-in-reverse", to: "saga/typo", why: "x" }]), now, "f")).toEqual(["f: the migration of the check 'saga/compensates-in-reverse' leads to 'saga/typo', which the course does not have (write it like 'saga/happy-path')."]);
});

test("a renamed lab carries its checks, and a renamed milestone its items, without a migration each", () => {
  const now = ids({ ...published, milestone: ["m5-queues"], item: ["m5-queues/saga"], lab: ["trip-saga"], check: ["trip-saga/happy-path", "trip-saga/compensates-in-reverse"] });
  const migrations: Migration[] = [
    { kind: "lab", from: "saga", to: "trip-saga", why: "" },
    { kind: "milestone", from: "m5", to: "m5-queues", why: "" },
  ];
  expect(lockProblems(lock(migrations), now, "f")).toEqual([]);
  expect(lockProblems(lock(migrations.slice(1)), now, "f")).toHaveLength(3); // the lab and both its checks
});

test("old evidence is read under today's ids: renames followed through chains, removals dropped", () => {
  const t = translateIds([
    { kind: "check", from: "saga/a", to: "saga/b", why: "" },
    { kind: "check", from: "saga/b", to: "saga/c", why: "" },
    { kind: "check", from: "saga/gone", to: null, why: "" },
    { kind: "lab", from: "saga", to: "trip-saga", why: "" },
    { kind: "lesson", from: "m5-old", to: "m5-new", why: "" },
    { kind: "item", from: "m5/old-item", to: "m5/new-item", why: "" },
    { kind: "milestone", from: "m9", to: null, why: "" },
  ]);
  expect(t.check("saga", "a")).toBe("c");
  expect(t.check("saga", "gone")).toBeNull();
  expect(t.check("saga", "happy-path")).toBe("happy-path");
  expect(t.lab("saga")).toBe("trip-saga");
  expect(t.lesson("m5-old")).toBe("m5-new");
  expect(t.item("m5", "old-item")).toEqual({ milestoneId: "m5", itemId: "new-item" });
  expect(t.item("m9", "anything")).toBeNull();
  expect(translateIds([]).check("x", "y")).toBe("y");
});

test("publishing keeps every id ever published, so a later removal is still seen", () => {
  const next = publish(lock(), ids({ ...published, check: ["saga/happy-path"] }));
  expect(next.published.check).toEqual(["saga/happy-path", "saga/compensates-in-reverse"]);
});
