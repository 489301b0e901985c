import { readFileSync } from "node:fs";

/**
 * A JSON file's value, or what an author needs to fix it: "not valid JSON, line 12, column 5: …".
 * Every loader of the course's JSON files (lab.json, milestone.json, course.json, the lock) reads
 * through this, so their messages agree.
 */
export function readJsonFile(file: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  const text = readFileSync(file, "utf8");
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, problem: `not valid JSON, ${describeJsonError(text, error)}` };
  }
}

/**
 * Where a JSON file is broken, as an author fixes it: "line 12, column 5: Unexpected token ','".
 * V8 gives a character offset for some mistakes and none for others; where it gives none, the
 * offset is the shortest prefix of the text that is already wrong, rather than merely unfinished.
 */
export function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const given = /at position (\d+)/.exec(message);
  const position = given ? Number(given[1]) : firstBadOffset(text);
  const what = message.replace(/ in JSON at position \d+.*$/s, "").replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, "");
  if (position === null) return what;
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return `line ${line}, column ${position - before.lastIndexOf("\n")}: ${what}`;
}

function firstBadOffset(text: string): number | null {
  const wrong = (end: number) => {
    try {
      JSON.parse(text.slice(0, end));
      return false;
    } catch (error) {
      // At the end of a prefix, V8 sometimes names what it expected there instead of the end.
      const message = (error as Error).message;
      const at = /at position (\d+)/.exec(message);
      return !/Unexpected end of JSON input/.test(message) && !(at && Number(at[1]) >= end);
    }
  };
  if (!wrong(text.length)) return null;
  let lo = 0;
  let hi = text.length; // wrong(hi) holds; find the smallest such end
  while (lo + 1 < hi) {
    const mid = (lo + hi) >> 1;
    if (wrong(mid)) hi = mid;
    else lo = mid;
  }
  return hi - 1;
}
