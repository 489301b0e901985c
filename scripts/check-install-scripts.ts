/**
 * `npm test`'s guard on dependency install scripts: every package with one must be reviewed,
 * approved or denied in package.json's `allowScripts`. `.npmrc` sets `strict-allow-scripts`, so
 * `npm install` already refuses an unreviewed one; this catches a tree installed around that
 * (`--dangerously-allow-all-scripts`, an older npm) before it reaches main.
 */
import { spawnSync } from "node:child_process";

const result = spawnSync("npm", ["install-scripts", "ls", "--json"], { encoding: "utf8" });
if (result.status !== 0 && /Unknown command|unknown command/i.test(`${result.stdout}${result.stderr}`)) {
  console.log(`npm ${spawnSync("npm", ["--version"], { encoding: "utf8" }).stdout.trim()} cannot list install scripts (npm 11.19 or newer can); not checked.`);
  process.exit(0);
}
if (result.status !== 0) {
  console.error(`\`npm install-scripts ls\` failed:\n${result.stderr || result.stdout}`);
  process.exit(1);
}
const { allowScripts } = JSON.parse(result.stdout) as { allowScripts: { name: string; changes: { key: string }[] }[] };
if (allowScripts.length > 0) {
  console.error(
    `These dependencies have install scripts nobody reviewed:\n${allowScripts.map((p) => `  ${p.changes.map((c) => c.key).join(", ") || p.name}`).join("\n")}`,
  );
  console.error("Read each script, then `npm install-scripts approve <pkg>` if the app needs it, or `npm install-scripts deny <pkg>` if it does not.");
  process.exit(1);
}
console.log("Every dependency install script is reviewed in package.json's allowScripts.");
