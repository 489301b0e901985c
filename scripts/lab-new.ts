/**
 * `npm run lab:new <id> [--title "…"] [--milestone M5]`: scaffolds labs/<id>/ — a complete, working
 * lab to edit into yours. Then `npm run labs:verify <id>` proves it.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { env } from "../lib/env.ts";
import { labsDirFor } from "../lib/labs/loader.ts";
import { ScaffoldError, scaffoldLab } from "../lib/labs/scaffold.ts";
import type { Lab } from "../lib/labs/schema.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { title: { type: "string" }, milestone: { type: "string" } } });
const id = positionals[0];
if (!id) {
  console.error(
    'Usage: npm run lab:new <id> [-- --title "A title" --milestone M5]\n  id: lower-case words joined by "-", e.g. rate-limiter\n  --milestone: M1 … M9 or Capstone, the code of the milestone that will list it',
  );
  process.exit(1);
}
try {
  const dir = scaffoldLab(labsDirFor(env().courseDir), {
    id,
    ...(values.title ? { title: values.title } : {}),
    ...(values.milestone ? { milestone: values.milestone as Lab["milestone"] } : {}),
  });
  console.log(`Created ${path.relative(process.cwd(), dir)}/: lab.json, instructions.md, starter/, solution/, wrong/ (three variants), checks.ts.
Next:
  npm run labs:verify ${id}      # proves it: the solution passes, the starter and the wrong variants fail
  edit the files into your lab (docs/authoring-labs.md explains the grader API), and verify again
  add it to a milestone's "labs" in ${path.relative(process.cwd(), env().courseDir) || "."}/<NN-milestone>/milestone.json to show it in the course`);
} catch (error) {
  if (!(error instanceof ScaffoldError)) throw error;
  console.error(`lab:new: ${error.message}`);
  process.exit(1);
}
