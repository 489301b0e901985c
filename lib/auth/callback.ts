/** Only same-site paths are followed after sign-in, so a crafted link cannot send people elsewhere. */
export function safeCallback(value: string | undefined): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  return value;
}
