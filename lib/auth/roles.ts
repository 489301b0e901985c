export const roles = ["learner", "instructor", "admin"] as const;
export type RoleName = (typeof roles)[number];

const rank: Record<RoleName, number> = { learner: 0, instructor: 1, admin: 2 };

/** Roles are ordered: an admin may do what an instructor may, an instructor what a learner may. */
export function hasRole(actual: RoleName, required: RoleName): boolean {
  return rank[actual] >= rank[required];
}
