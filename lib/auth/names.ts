/** How a person is named to others (certificates, class grids): their name, else their email's local part. */
export const displayName = (user: { name: string | null; email: string }): string => user.name?.trim() || user.email.split("@")[0]!;
