import type { ReactNode } from "react";
import { redirect } from "next/navigation";
import { env } from "@/lib/env";

export default function AuthLayout({ children }: { children: ReactNode }) {
  // With FAULTLINE_AUTH=local everyone is the local learner; there is nothing to sign in to.
  if (env().FAULTLINE_AUTH === "local") redirect("/");
  return <div className="mx-auto max-w-md px-4 py-16">{children}</div>;
}
