/** The escape suite (runner-escapes.suite.ts) on the bubblewrap tier, attack.ts an instance in the run's shared sandbox. */
import { escapeSuite } from "./runner-escapes.suite.ts";

escapeSuite("bubblewrap", true);
