/**
 * The sign-up limit per address stops a script creating accounts, but a classroom behind one
 * address (a school's NAT) signs up together. A sign-up through a cohort's current invite is
 * counted against that invite instead; an invalid or replaced code gets the per-address limit.
 */
import { describe, expect, test } from "vitest";
import { signUp, type AccountDeps } from "../../lib/auth/accounts.ts";
import { createCohort, previewInvite, replaceInvite } from "../../lib/cohorts/cohorts.ts";
import { RateLimitedError } from "../../lib/redis/rate-limit.ts";
import { providers, testDatabase, testRedis, type TestDatabase, type TestRedis } from "./support/namespaces.ts";

const password = "tidal-ember-47-quartz";
const deps = (t: TestDatabase, r: TestRedis): AccountDeps => ({
  db: t.db,
  redis: r.redis,
  keys: r.keys,
  limits: { loginPerEmail: 10, loginPerIp: 50, signupPerIp: 3, signupPerInvite: 6 },
  inviteCohort: (invite) => previewInvite(t.db, invite),
});

async function cohortWithInvite(t: TestDatabase) {
  const teacher = await t.db.user.create({ data: { email: `teacher-${Date.now()}@example.org`, role: "instructor" } });
  const cohort = await createCohort(t.db, { id: teacher.id, role: "instructor" }, { name: "Room 12" });
  return { teacher, cohort };
}

describe.each(providers)("sign-up limits on %s", (provider) => {
  test("a class behind one address signs up through its invite link past the per-address limit, up to the invite's own", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const { cohort } = await cohortWithInvite(t);
    const nat = "203.0.113.7";
    // The join page sends people through sign-up with callbackUrl=/join/CODE; the form sends that link as the invite.
    for (let i = 0; i < 6; i++) await signUp(deps(t, r), { email: `pupil${i}@example.org`, password, invite: `/join/${cohort.inviteCode}` }, nat);
    await expect(signUp(deps(t, r), { email: "pupil6@example.org", password, invite: cohort.inviteCode }, nat)).rejects.toThrow(RateLimitedError);
    // The address's own bucket was never touched: a sign-up without an invite still gets its 3.
    for (let i = 0; i < 3; i++) await signUp(deps(t, r), { email: `walk-in${i}@example.org`, password }, nat);
    await expect(signUp(deps(t, r), { email: "walk-in3@example.org", password }, nat)).rejects.toThrow(RateLimitedError);
    expect(await t.db.user.count()).toBe(1 + 6 + 3);
  });

  test("an invalid or replaced invite code gets the per-address limit", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const { teacher, cohort } = await cohortWithInvite(t);
    const old = cohort.inviteCode;
    const current = await replaceInvite(t.db, { id: teacher.id, role: "instructor" }, cohort.id);
    const ip = "198.51.100.4";
    await signUp(deps(t, r), { email: "a@example.org", password, invite: old }, ip);
    await signUp(deps(t, r), { email: "b@example.org", password, invite: "not-a-code" }, ip);
    await signUp(deps(t, r), { email: "c@example.org", password, invite: "/join/ZZZZZZZZ" }, ip);
    await expect(signUp(deps(t, r), { email: "d@example.org", password, invite: old }, ip)).rejects.toThrow(RateLimitedError);
    // The current code still works from the same address.
    await signUp(deps(t, r), { email: "e@example.org", password, invite: current }, ip);
  });
});
