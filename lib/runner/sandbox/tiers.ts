/**
 * How each sandbox tier wraps a learner program (docs/architecture.md "The sandbox", layer 1), in one
 * place for the runs (spawn.ts) and the probe that proves them (probe.ts):
 *
 * - bubblewrap: every namespace, read-only /usr and /lab, the socket directory read-only (a
 *   program can connect to the proxy socket in it but create no socket or file there), a
 *   size-capped private /tmp, nothing else.
 * - unshare (where bubblewrap cannot run): the same view built by hand. A user namespace whose
 *   root is the (unprivileged) learner uid gets mount and network namespaces, mounts a tmpfs root
 *   with the same entries plus a minimal /dev, and brings up loopback; then a PID namespace with
 *   its own /proc, and a nested user namespace mapping only the learner's uid, which chroots into
 *   that root (unshare --root does it after unsharing: CLONE_NEWUSER is refused inside a chroot)
 *   and runs the program as a child of a shell that is pid 1. The program has that uid inside
 *   and outside, and no capabilities: it executes as a non-root uid of the nested namespace.
 * - process: the program on the host's filesystem, with only Node's permission model and limits
 *   in front of it. It cannot hide the host's /tmp or sockets, so policy.ts refuses it unless the
 *   operator allows it.
 */
import { accessSync, constants } from "node:fs";
import path from "node:path";

export type SandboxTier = "bubblewrap" | "unshare" | "process";

export interface TierMounts {
  /** Host directory with the built learner code and vendored modules; /lab, read-only. */
  labDir: string;
  /** Host directory holding the run's proxy socket; /run/faultline, read-only. */
  socketDir: string;
  /** Size of the private /tmp. */
  tmpBytes: number;
  /** uid and gid the program has (unshare tier: mapped to the same numbers inside). */
  uid: number;
  gid: number;
}

export interface TierPaths {
  /** Where the program sees labDir and socketDir. */
  labPath: string;
  socketPath: string;
}

/**
 * An executable on the runner's PATH, as an absolute path: learner processes start with an empty
 * environment, so the probe and the runs must resolve it the same way, from the runner's PATH.
 */
export function findBinary(name: string, dirs = (process.env.PATH ?? "").split(":")): string | null {
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function tierPaths(tier: SandboxTier, m: Pick<TierMounts, "labDir" | "socketDir">): TierPaths {
  return tier === "process" ? { labPath: m.labDir, socketPath: m.socketDir } : { labPath: "/lab", socketPath: "/run/faultline" };
}

/** The Node binary, when it lives outside /usr and must be mounted into the sandbox's root. */
const extraNode = (node: string) => (node.startsWith("/usr/") ? null : node);

export function bubblewrapArgs(extra: string[] = [], tmpBytes = 16 * 1024 * 1024): string[] {
  return [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/bin",
    "/bin",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--size",
    String(tmpBytes),
    "--tmpfs",
    "/tmp",
    ...extra,
  ];
}

/**
 * The unshare tier's first stage, run by `sh` as root of a user namespace whose root is the
 * learner's uid (so "root" here has no power over the host). The root is mounted on /sys: any
 * directory would do, the mount namespace being private, and /sys exists on every Linux host and
 * is never where a run's directories are. Positional parameters: lab, sock, tmp bytes, uid, gid,
 * node and its directory (empty when under /usr), then the program's argv.
 */
const UNSHARE_STAGE = String.raw`PATH=/usr/sbin:/usr/bin:/sbin:/bin
fail() { echo "fl-sandbox: $1" >&2; exit 125; }
lab=$1 sock=$2 tmp=$3 uid=$4 gid=$5 node=$6 nodedir=$7
shift 7
root=/sys
mount -t tmpfs -o size=1m,mode=0755,nosuid,nodev fl-root "$root" || fail "could not mount a tmpfs for the root on $root"
cd "$root" && mkdir -p usr lab run/faultline tmp proc dev && ln -s usr/bin usr/lib usr/lib64 . && touch dev/null dev/zero dev/random dev/urandom || fail "could not lay out the root"
mount --bind -o ro,nosuid,nodev /usr usr || fail "could not mount /usr"
mount --bind -o ro,nosuid,nodev "$lab" lab || fail "could not mount /lab"
mount --bind -o ro,nosuid,nodev "$sock" run/faultline || fail "could not mount the socket directory"
mount -t tmpfs -o size="$tmp",mode=1777,nosuid,nodev fl-tmp tmp || fail "could not mount /tmp"
for d in null zero random urandom; do mount --bind "/dev/$d" "dev/$d" || fail "could not mount /dev/$d"; done
if [ -n "$node" ]; then mkdir -p "$root$nodedir" && touch "$root$node" && mount --bind -o ro,nosuid,nodev "$node" "$root$node" || fail "could not mount $node"; fi
ip link set lo up || fail "could not bring up loopback (is iproute2 installed?)"
mount -o remount,ro,nosuid,nodev fl-root "$root" || fail "could not make the root read-only"
exec env -i unshare --pid --fork --kill-child --mount-proc="$root/proc" -- unshare --user --map-user="$uid" --map-group="$gid" --root="$root" --wd=/lab -- /bin/sh -c '"$@"; exit $?' sandbox-init "$@"`;

export function unshareArgs(m: TierMounts, program: string[], node = process.execPath): string[] {
  return [
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--",
    "/bin/sh",
    "-c",
    UNSHARE_STAGE,
    "fl-sandbox",
    m.labDir,
    m.socketDir,
    String(m.tmpBytes),
    String(m.uid),
    String(m.gid),
    extraNode(node) ?? "",
    path.dirname(extraNode(node) ?? "/"),
    ...program,
  ];
}

/**
 * The command that runs `program` (argv with paths as the program sees them: see tierPaths) in
 * `tier`. A tool missing from PATH stays a bare name, so starting it fails with the tool's name
 * in the error; the probe reports it before any run (probe.ts).
 */
export function wrapInTier(tier: SandboxTier, m: TierMounts, program: string[], node = process.execPath): { command: string; args: string[] } {
  if (tier === "process") return { command: program[0]!, args: program.slice(1) };
  const tool = tier === "bubblewrap" ? "bwrap" : "unshare";
  const command = findBinary(tool) ?? tool;
  if (tier === "unshare") return { command, args: unshareArgs(m, program, node) };
  const { labPath, socketPath } = tierPaths(tier, m);
  const binds = ["--ro-bind", m.labDir, labPath, "--ro-bind", m.socketDir, socketPath, "--chdir", labPath];
  const extra = extraNode(node);
  if (extra) binds.push("--ro-bind", extra, extra);
  return { command, args: [...bubblewrapArgs(binds, m.tmpBytes), "--", ...program] };
}
