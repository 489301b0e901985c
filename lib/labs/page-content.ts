import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { languageOf } from "../runner/files.ts";
import type { LoadedLab } from "./loader.ts";

/**
 * What the browser may see of a lab: its instructions and its starter files, as Markdown. Never
 * solution/, wrong/ or checks.ts.
 */
export function labPageMarkdown({ lab, dir }: LoadedLab): string {
  const file = path.join(dir, "instructions.md");
  const instructions = existsSync(file) ? readFileSync(file, "utf8").replace(/^# .*\n/, "") : lab.summary;
  const starter = lab.files.map(
    (f) =>
      `### ${f.path}${f.editable ? "" : " (read-only)"}\n\n\`\`\`${languageOf(f.path).replace("typescript", "ts")}\n${readFileSync(path.join(dir, "starter", f.path), "utf8").trimEnd()}\n\`\`\``,
  );
  return `${instructions}\n\n## Your starting files\n\n${starter.join("\n\n")}\n`;
}
