"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { setRole } from "@/lib/auth/admin";
import { RoleChangeError } from "@/lib/auth/role-change";
import { roles } from "@/lib/auth/roles";
import { requirePageUser } from "@/lib/auth/session";

const Input = z.object({ userId: z.string().min(1), role: z.enum(roles) });

export async function changeRoleAction(_: string | null, form: FormData): Promise<string | null> {
  const admin = await requirePageUser("admin", "/admin");
  const parsed = Input.safeParse({ userId: form.get("userId"), role: form.get("role") });
  if (!parsed.success) return "Choose a user and one of the roles learner, instructor or admin.";
  try {
    await setRole(admin.id, parsed.data.userId, parsed.data.role);
  } catch (error) {
    if (error instanceof RoleChangeError) return error.message;
    throw error;
  }
  revalidatePath("/admin");
  return null;
}
