/**
 * Whether runs may use the sandbox tier this runner proved (docs/architecture.md "The sandbox":
 * the sandbox fails closed). A tier that cannot give learner code a private /tmp and hide the host's
 * sockets (`process`: no bubblewrap, no usable unshare) is refused for every run, graded or
 * playground, unless the operator allows it explicitly (FAULTLINE_ALLOW_WEAK_SANDBOX=1, logged
 * at start-up and noted on each run), or the platform is one learner's own
 * (FAULTLINE_AUTH=local, e.g. a laptop without bubblewrap: the only code at risk is theirs).
 */
import { env } from "../../env.ts";
import type { ProbeResult } from "./probe.ts";
import type { SandboxTier } from "./tiers.ts";
import { describeSandboxUser } from "./user.ts";

export interface SandboxPolicy {
  /** FAULTLINE_ALLOW_WEAK_SANDBOX=1 */
  allowWeak: boolean;
  /** FAULTLINE_AUTH=local */
  local: boolean;
}

export function policyFromEnv(): SandboxPolicy {
  const config = env();
  return { allowWeak: config.FAULTLINE_ALLOW_WEAK_SANDBOX, local: config.FAULTLINE_AUTH === "local" };
}

/** Tiers whose probe proves a private /tmp and no view of the host's sockets (probe.ts). */
export const isWeakTier = (tier: SandboxTier): boolean => tier === "process";

export const WEAK_REFUSAL =
  "Faultline's sandbox is unavailable on the runner that took this run (neither bubblewrap nor unshare could isolate learner code on its host), so your code was not run. This is not a problem with your code: the people running this Faultline have to fix the runner host.";

function weakNotice(tier: SandboxTier, policy: SandboxPolicy): string {
  return policy.allowWeak
    ? `This run used the weak '${tier}' sandbox tier, which cannot hide the runner host's files and sockets from learner code; the operator allowed it (FAULTLINE_ALLOW_WEAK_SANDBOX=1).`
    : `This run used the weak '${tier}' sandbox tier (this computer has no usable bubblewrap or unshare), so your code can see this computer's files and sockets. That is accepted only because Faultline runs for you alone here (FAULTLINE_AUTH=local).`;
}

/**
 * Admits a run to `tier`: null when it may run (a weak tier's notice is emitted to the run), or
 * the message the run ends with as `error` when it may not.
 */
export function admitRun(tier: SandboxTier, notice: (text: string) => void, given?: SandboxPolicy): string | null {
  if (!isWeakTier(tier)) return null;
  const policy = given ?? policyFromEnv();
  if (!policy.allowWeak && !policy.local) return WEAK_REFUSAL;
  notice(weakNotice(tier, policy));
  return null;
}

/** The runner's start-up log line about its tier: loud whenever learner code would not be contained. */
export function describeTier(
  probe: ProbeResult,
  policy: SandboxPolicy = policyFromEnv(),
): { level: "info" | "warn" | "error"; message: string; fields: Record<string, unknown> } {
  const fields = { tier: probe.tier, learnerUser: describeSandboxUser(), reasons: probe.reasons };
  if (!isWeakTier(probe.tier)) {
    const message =
      probe.tier === "bubblewrap"
        ? "sandbox tier: bubblewrap (all namespaces)"
        : `sandbox tier: ${probe.tier} (private mount, network and PID namespaces; bubblewrap could not run)`;
    return { level: probe.tier === "bubblewrap" ? "info" : "warn", message, fields };
  }
  if (policy.allowWeak) {
    return {
      level: "error",
      message: `SANDBOX IS WEAK: tier '${probe.tier}' cannot hide this host's /tmp, sockets and files from learner code, and FAULTLINE_ALLOW_WEAK_SANDBOX=1 lets every run use it anyway. Install bubblewrap (or allow unprivileged user namespaces) and remove the override.`,
      fields,
    };
  }
  if (policy.local) {
    return {
      level: "warn",
      message: `sandbox tier: ${probe.tier}, which cannot hide this computer's files and sockets from the code you run; accepted because FAULTLINE_AUTH=local (one learner, on their own machine).`,
      fields,
    };
  }
  return {
    level: "error",
    message: `SANDBOX UNAVAILABLE: tier '${probe.tier}' cannot hide this host's /tmp, sockets and files, so this runner refuses every run (each ends as an error that is not the learner's fault). Install bubblewrap (or allow unprivileged user namespaces for unshare); FAULTLINE_ALLOW_WEAK_SANDBOX=1 overrides this at your own risk.`,
    fields,
  };
}

/** What the heartbeat (admin page, /api/ready) shows for this runner's sandbox. */
export function tierLabel(tier: SandboxTier, policy: SandboxPolicy = policyFromEnv()): string {
  if (!isWeakTier(tier)) return tier;
  return `${tier} (${policy.allowWeak ? "weak, allowed by FAULTLINE_ALLOW_WEAK_SANDBOX" : policy.local ? "weak, local use" : "weak: runs refused"})`;
}
