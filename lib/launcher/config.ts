import { ConfigError, parseEnv, type Env } from "../env.ts";

/** For command-line entry points: the validated configuration, or the reasons and exit 1. */
export function configOrExit(): Env {
  try {
    return parseEnv(process.env);
  } catch (error) {
    console.error(error instanceof ConfigError ? `\n✖ ${error.message}\n` : error);
    process.exit(1);
  }
}
