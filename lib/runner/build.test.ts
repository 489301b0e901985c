import { expect, test } from "vitest";
import { buildFiles, checkFiles, rewriteImports } from "./build.ts";
import { isModule, languageOf } from "./files.ts";

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

test("compose files and Dockerfiles are lab files, copied as written and never transpiled", async () => {
  expect(checkFiles({ "docker-compose.yml": "", "compose.yaml": "", Dockerfile: "", "Dockerfile.worker": "", "deploy/Dockerfile": "" })).toEqual([]);
  const compose = "services:\n  redis:\n    image: redis:7.4 # not TypeScript\n";
  const result = await buildFiles({ "docker-compose.yml": compose, Dockerfile: "FROM node:20-bookworm-slim\nUSER node\n" });
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  expect(Object.fromEntries(result.files)).toEqual({ "docker-compose.yml": compose, Dockerfile: "FROM node:20-bookworm-slim\nUSER node\n" });
});

test.each(["Dockerfile.", "Dockerfile.a.b", "dockerfile", "xDockerfile", ".env.yml", "compose.yml.sh", "Dockerfile/../x.ts", "../docker-compose.yml"])(
  "the file name %j is refused too",
  (name) => {
    expect(checkFiles({ [name]: "" })[0]?.message).toMatch(/not an allowed file name/);
  },
);

test("each lab file's editor language follows its name", () => {
  expect(["queue.ts", "data.json", "docker-compose.yml", "a/compose.yaml", "Dockerfile", "build/Dockerfile.api"].map(languageOf)).toEqual([
    "typescript",
    "json",
    "yaml",
    "yaml",
    "dockerfile",
    "dockerfile",
  ]);
  expect(["queue.ts", "docker-compose.yml", "Dockerfile", "data.json"].map(isModule)).toEqual([true, false, false, false]);
});
