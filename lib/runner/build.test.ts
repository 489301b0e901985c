import { expect, test } from "vitest";
import { buildFiles, checkFiles, rewriteImports } from "./build.ts";

test("TypeScript files become ESM JavaScript with imports pointing at the built files", async () => {
  const result = await buildFiles({
    "queue.ts": `import { score } from "./score.ts";\nexport async function enqueue(id: string, p: number): Promise<string> { return id + score(p); }`,
    "score.ts": `export const score = (p: number): number => p * 2;`,
  });
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  expect([...result.files.keys()].sort()).toEqual(["queue.js", "score.js"]);
  expect(result.files.get("queue.js")).toContain(`from "./score.js"`);
  expect(result.files.get("queue.js")).not.toContain(": string");
});

test("a syntax error comes back with file, line and column", async () => {
  const result = await buildFiles({ "worker.ts": `export function run() {\n  const x = ;\n}` });
  expect(result).toMatchObject({ ok: false, diagnostics: [{ file: "worker.ts", line: 2, column: 13 }] });
  if (!result.ok) expect(result.diagnostics[0]?.message).toMatch(/Unexpected/);
});

test.each(["../escape.ts", "/etc/passwd.ts", "a/../../b.ts", ".hidden.ts", "run.sh", "dir\\x.ts", "x.ts\0.json"])("the file name %j is refused", (name) => {
  expect(checkFiles({ [name]: "" })[0]?.message).toMatch(/not an allowed file name/);
});

test("nested relative names are fine, and size limits are enforced with numbers", () => {
  expect(checkFiles({ "lib/util.ts": "", "main.ts": "" })).toEqual([]);
  expect(checkFiles({ "big.ts": "x".repeat(100_001) })[0]?.message).toMatch(/100001 bytes; a file may be at most 100000/);
  expect(checkFiles({})[0]?.message).toMatch(/No files were sent/);
});

test("import specifiers with or without an extension all point at .js", () => {
  expect(rewriteImports(`import a from "./a";\nexport { b } from "../b.ts";\nconst c = await import("./c.js");\nimport x from "ioredis";`)).toBe(
    `import a from "./a.js";\nexport { b } from "../b.js";\nconst c = await import("./c.js");\nimport x from "ioredis";`,
  );
});
