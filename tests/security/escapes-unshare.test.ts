/** The escape suite (runner-escapes.suite.ts) on the unshare tier, used where bubblewrap cannot run. */
import { escapeSuite } from "./runner-escapes.suite.ts";

escapeSuite("unshare", false);
