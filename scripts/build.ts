/** `npm run build`: a production build of the web app, stamped so `npm start` knows it is current. */
import { buildApp } from "../lib/launcher/build.ts";

const ok = await buildApp(process.cwd(), { verbose: true });
process.exit(ok ? 0 : 1);
