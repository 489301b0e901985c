/** The escape suite (runner-escapes.suite.ts) on the bubblewrap tier, attack.ts a process of its own; and what concerns the host. */
import { escapeSuite, hostSuite } from "./runner-escapes.suite.ts";

escapeSuite("bubblewrap", false);
hostSuite();
