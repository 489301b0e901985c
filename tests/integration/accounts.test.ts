import { describe, expect, test } from "vitest";
import { AccountError, authenticate, signUp, type AccountDeps } from "../../lib/auth/accounts.ts";
import { changeRole } from "../../lib/auth/role-change.ts";
import { RateLimitedError } from "../../lib/redis/rate-limit.ts";
import { providers, testDatabase, testRedis, type TestDatabase, type TestRedis } from "./support/namespaces.ts";

const limits = { loginPerEmail: 5, loginPerIp: 100, signupPerIp: 100, signupPerInvite: 100 };
const deps = (t: TestDatabase, r: TestRedis, overrides: Partial<AccountDeps["limits"]> = {}): AccountDeps => ({
  db: t.db,
  redis: r.redis,
  keys: r.keys,
  limits: { ...limits, ...overrides },
});
const password = "tidal-ember-47-quartz";

describe.each(providers)("accounts on %s", (provider) => {
  test("the first account becomes admin and later ones are learners", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const first = await signUp(deps(t, r), { email: "Ada@Example.org ", password, name: "Ada" }, "10.0.0.1");
    const second = await signUp(deps(t, r), { email: "grace@example.org", password }, "10.0.0.1");
    expect(first).toMatchObject({ email: "ada@example.org", role: "admin", name: "Ada" });
    expect(second.role).toBe("learner");
  });

  test("concurrent first sign-ups produce exactly one admin", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const users = await Promise.all(Array.from({ length: 6 }, (_, i) => signUp(deps(t, r), { email: `u${i}@example.org`, password }, "10.0.0.2")));
    expect(users.filter((u) => u.role === "admin").length).toBeLessThanOrEqual(1);
    expect(await t.db.user.count({ where: { role: "admin" } })).toBe(1);
  });

  test("a taken email and a weak password get messages that say what to do", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    await signUp(deps(t, r), { email: "ada@example.org", password }, "10.0.0.3");
    await expect(signUp(deps(t, r), { email: "ADA@example.org", password }, "10.0.0.3")).rejects.toThrow(/already exists\. Sign in instead/);
    await expect(signUp(deps(t, r), { email: "bob@example.org", password: "password123" }, "10.0.0.3")).rejects.toMatchObject({
      code: "weak_password",
      field: "password",
    });
    await expect(signUp(deps(t, r), { email: "not-an-email", password }, "10.0.0.3")).rejects.toThrow(/valid email/);
    expect(await t.db.user.count()).toBe(1);
  });

  test("sign-in accepts the right password and gives one message for a wrong password or unknown email", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    await signUp(deps(t, r), { email: "ada@example.org", password }, "10.0.0.4");
    expect(await authenticate(deps(t, r), { email: "ADA@example.org", password }, "10.0.0.4")).toMatchObject({ email: "ada@example.org", role: "admin" });
    const wrongPassword = await authenticate(deps(t, r), { email: "ada@example.org", password: "nope-nope-nope" }, "10.0.0.4").catch((e: unknown) => e);
    const unknownEmail = await authenticate(deps(t, r), { email: "nobody@example.org", password }, "10.0.0.4").catch((e: unknown) => e);
    expect(wrongPassword).toBeInstanceOf(AccountError);
    expect((wrongPassword as Error).message).toBe("Email or password is incorrect.");
    expect((unknownEmail as Error).message).toBe((wrongPassword as Error).message);
  });

  test("sign-in is rate limited per email across addresses, and per address across emails", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    await signUp(deps(t, r), { email: "ada@example.org", password }, "10.0.0.5");
    for (let i = 0; i < 5; i++) {
      await authenticate(deps(t, r), { email: "ada@example.org", password: "wrong-guess-" + i }, `10.1.0.${i}`).catch(() => {});
    }
    // even the right password is refused once the email's budget is spent
    await expect(authenticate(deps(t, r), { email: "ada@example.org", password }, "10.1.0.99")).rejects.toBeInstanceOf(RateLimitedError);
    const ipLimited = deps(t, r, { loginPerIp: 3 });
    for (let i = 0; i < 3; i++) await authenticate(ipLimited, { email: `x${i}@example.org`, password }, "10.2.0.1").catch(() => {});
    await expect(authenticate(ipLimited, { email: "y@example.org", password }, "10.2.0.1")).rejects.toThrow(/Too many attempts\. Try again in \d+ minutes/);
  });

  test("sign-up is rate limited per address", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const limited = deps(t, r, { signupPerIp: 2 });
    await signUp(limited, { email: "a@example.org", password }, "10.3.0.1");
    await signUp(limited, { email: "b@example.org", password }, "10.3.0.1");
    await expect(signUp(limited, { email: "c@example.org", password }, "10.3.0.1")).rejects.toBeInstanceOf(RateLimitedError);
    await expect(signUp(limited, { email: "c@example.org", password }, "10.3.0.2")).resolves.toMatchObject({ role: "learner" });
  });

  test("the last admin cannot give up the role, and another admin can be made", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const admin = await signUp(deps(t, r), { email: "ada@example.org", password }, "10.4.0.1");
    const other = await signUp(deps(t, r), { email: "grace@example.org", password }, "10.4.0.1");
    await expect(changeRole(t.db, admin.id, admin.id, "learner")).rejects.toThrow(/only admin/);
    await changeRole(t.db, admin.id, other.id, "admin");
    await changeRole(t.db, admin.id, admin.id, "instructor");
    expect((await t.db.user.findUniqueOrThrow({ where: { id: admin.id } })).role).toBe("instructor");
  });

  test("two admins giving up the role at once leave one admin, and the other is told why", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const admin = await signUp(deps(t, r), { email: "ada@example.org", password }, "10.4.0.2");
    const other = await signUp(deps(t, r), { email: "grace@example.org", password }, "10.4.0.2");
    // Several rounds: the first runs on one warm pooled connection, which hides the race.
    for (let round = 0; round < 8; round++) {
      await t.db.user.updateMany({ data: { role: "admin" } });
      const outcomes = await Promise.allSettled([changeRole(t.db, admin.id, admin.id, "learner"), changeRole(t.db, other.id, other.id, "learner")]);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      const refused = outcomes.find((o) => o.status === "rejected");
      expect(String(refused?.reason)).toMatch(/only admin/);
      expect(await t.db.user.count({ where: { role: "admin" } })).toBe(1);
    }
  });
});
