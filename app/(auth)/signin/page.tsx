import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { SignInForm } from "@/components/auth/sign-in-form";
import { currentUser } from "@/lib/auth/session";
import { safeCallback } from "@/lib/auth/callback";
import { INVALID_CREDENTIALS } from "@/lib/auth/messages";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; error?: string }> }) {
  const params = await searchParams;
  const callbackUrl = safeCallback(params.callbackUrl);
  if (await currentUser()) redirect(callbackUrl);
  const initialError = params.error ? (params.error === "CredentialsSignin" ? INVALID_CREDENTIALS : "Sign-in failed. Try again.") : null;
  return (
    <>
      <h1 className="text-2xl font-bold tracking-tight">Sign in to Faultline</h1>
      <p className="mt-2 mb-6 text-slate-700 dark:text-slate-300">Pick up where you left off.</p>
      <SignInForm callbackUrl={callbackUrl} initialError={initialError} />
    </>
  );
}
