"use client";

import Link from "next/link";
import { signIn } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Field, FormAlert, SubmitButton } from "../ui/field";

type Errors = { form?: string; email?: string; password?: string; name?: string };

export function SignUpForm({ callbackUrl = "/" }: { callbackUrl?: string }) {
  const router = useRouter();
  const [errors, setErrors] = useState<Errors>({});
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setPending(true);
    setErrors({});
    const form = new FormData(event.currentTarget);
    // Signing up on the way to a cohort's invite link: the invite, not this address, counts the sign-up.
    // The server reads the code from the link (lib/cohorts/invite.ts) and checks it is current.
    const invite = callbackUrl.startsWith("/join/") ? callbackUrl : null;
    const body = { name: form.get("name"), email: form.get("email"), password: form.get("password"), ...(invite ? { invite } : {}) };
    try {
      const response = await fetch("/api/signup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const data = (await response.json().catch(() => ({}))) as { error?: string; field?: keyof Errors; issues?: { path: string; message: string }[] };
      if (!response.ok) {
        const field = data.field ?? (data.issues?.[0]?.path as keyof Errors | undefined);
        setErrors(field && field !== "form" ? { [field]: data.error } : { form: data.error ?? "Sign-up failed. Try again." });
        return;
      }
      const result = await signIn("credentials", { email: body.email, password: body.password, redirect: false });
      if (result?.error) {
        setErrors({ form: "Your account was created, but signing in failed. Sign in with your new password." });
        return;
      }
      router.push(callbackUrl);
      router.refresh();
    } catch {
      setErrors({ form: "Faultline did not answer. Check your connection and try again." });
    } finally {
      setPending(false);
    }
  }

  return (
    <form onSubmit={onSubmit} className="space-y-4" noValidate>
      <FormAlert message={errors.form ?? null} />
      <Field id="name" name="name" label="Name (optional)" autoComplete="name" error={errors.name} />
      <Field id="email" name="email" type="email" label="Email" autoComplete="email" required error={errors.email} />
      <Field
        id="password"
        name="password"
        type="password"
        label="Password"
        autoComplete="new-password"
        required
        error={errors.password}
        hint="At least 10 characters; not a common password."
      />
      <SubmitButton pending={pending} pendingLabel="Creating your account…">
        Create account
      </SubmitButton>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Already have an account?{" "}
        <Link href="/signin" className="font-medium text-brand-700 underline dark:text-brand-400">
          Sign in
        </Link>
      </p>
    </form>
  );
}
