import { isScalar, visit, type Pair, type Scalar } from "yaml";
import { defineChecks, type CheckContext } from "../../lib/grader/index.ts";
import {
  COMPOSE,
  DOCKERFILE,
  chainOf,
  interpolate,
  parseCompose,
  parseDockerfile,
  quote,
  schemaProblems,
  type ComposeFile,
  type DockerfileModel,
  type PathSeg,
  type Stage,
} from "./parse.ts";

// There is no Docker here, so nothing is built or started: every check reads the learner's two
// files with real parsers (yaml, dockerfile-ast), as Compose and BuildKit would, and holds one rule
// the lessons teach. Each failure names the file and line and quotes the learner's own lines.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined);

/** One thing wrong, at a line of one of the two files. */
interface Finding {
  file: string;
  line: number;
  what: string;
  /** Lines to quote besides `line` (a whole block). */
  lines?: number[];
}

interface Texts {
  [COMPOSE]: string;
  [DOCKERFILE]: string;
}

/** Fails with every finding, each as "file line N: what", and the learner's lines quoted under them. */
function report(t: CheckContext, texts: Texts, findings: Finding[], details: { message: string; expected: string; hint: string }): void {
  if (findings.length === 0) return;
  const sorted = [...findings].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  const listed = sorted.map((f) => `${f.file} line ${f.line}: ${f.what}`);
  const quoted = [COMPOSE, DOCKERFILE]
    .map((file) => {
      const mine = sorted.filter((f) => f.file === file);
      return mine.length > 0
        ? quote(
            file,
            texts[file as keyof Texts],
            mine.flatMap((f) => [f.line, ...(f.lines ?? [])]),
          )
        : "";
    })
    .filter(Boolean);
  const first = sorted[0]!;
  t.fail({
    message: `${details.message} ${first.file} line ${first.line}: ${first.what}${sorted.length > 1 ? ` (and ${sorted.length - 1} more below)` : ""}`,
    expected: details.expected,
    actual: `${listed.join("\n")}\n\n${quoted.join("\n\n")}`,
    hint: details.hint,
  });
}

interface Files {
  texts: Texts;
  compose: ComposeFile;
  docker: DockerfileModel;
  services: Obj;
}

/**
 * Both files, parsed. A compose file that is not YAML fails every check with the parser's
 * position: no rule can be judged on it.
 */
function read(t: CheckContext): Files {
  const texts: Texts = { [COMPOSE]: t.source(COMPOSE), [DOCKERFILE]: t.source(DOCKERFILE) };
  const compose = parseCompose(texts[COMPOSE]);
  if (compose.syntax.length > 0) {
    report(
      t,
      texts,
      compose.syntax.map((p) => ({ file: COMPOSE, line: p.line, what: `${p.message} (column ${p.column})` })),
      {
        message: "docker-compose.yml is not valid YAML, so Compose would not read it.",
        expected: "a YAML mapping with services:, volumes: … and each key once per mapping",
        hint: "Fix the first error: YAML nests by indentation (spaces, never tabs), a key may appear only once in a mapping, and an alias (*name) needs its anchor (&name) earlier in the file.",
      },
    );
  }
  const services = isObj(compose.value.services) ? compose.value.services : {};
  return { texts, compose, docker: parseDockerfile(texts[DOCKERFILE]), services };
}

const svc = (f: Files, name: string): Obj | undefined => (isObj(f.services[name]) ? f.services[name] : undefined);
const at = (f: Files, path: PathSeg[], what: string, block = false): Finding => ({
  file: COMPOSE,
  line: f.compose.line(path),
  what,
  lines: block ? f.compose.lines(path) : undefined,
});
const QUEUE = ["redis", "api", "worker"] as const;
const APPS = ["api", "worker"] as const;

// ---------------------------------------------------------------------------------------------
// Shared readings of the compose model

/** A command as Compose would run it: a list as is, a string split as a shell would split words. */
function argv(v: unknown): string[] | undefined {
  if (Array.isArray(v)) return v.map((x) => str(x) ?? "");
  const s = str(v);
  return s === undefined ? undefined : (s.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^["']|["']$/g, ""));
}

/** The stage a service's image is: its build target, or the Dockerfile's last stage. */
function stageOf(f: Files, service: Obj): Stage | undefined {
  const target = isObj(service.build) ? str(service.build.target) : undefined;
  return target ? f.docker.stage(target) : f.docker.stages.at(-1);
}

/** The stages the API and the worker run (their build targets, or the last stage). */
function runtimeStages(f: Files): Stage[] {
  const stages = APPS.map((name) => svc(f, name))
    .filter((s): s is Obj => s !== undefined && s.build !== undefined)
    .map((s) => stageOf(f, s))
    .filter((s): s is Stage => s !== undefined);
  const last = f.docker.stages.at(-1);
  return [...new Set(stages.length > 0 ? stages : last ? [last] : [])];
}

/** A Dockerfile instruction's arguments, JSON (exec) form or not. */
function dockerArgv(text: string): string[] {
  const s = text.trim();
  if (s.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(s);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // not valid JSON: the shell form, as BuildKit treats it
    }
  }
  return s.split(/\s+/);
}

function cmdOfStage(f: Files, stage: Stage | undefined): string[] | undefined {
  if (!stage) return undefined;
  for (const s of chainOf(stage).reverse()) {
    const cmd = [...s.instructions].reverse().find((i) => i.getKeyword().toUpperCase() === "CMD");
    if (cmd) return dockerArgv(cmd.getArgumentsContent() ?? "");
  }
  return undefined;
}

interface Health {
  /** Where it comes from, for messages. */
  from: "compose" | "Dockerfile" | "none";
  disabled: boolean;
  /** The command as the engine runs it: exec argv, or ["/bin/sh", "-c", text] for CMD-SHELL. */
  argv: string[];
  shell: boolean;
  line: number;
  file: string;
}

/** A service's effective health check: its own, or its image's HEALTHCHECK. */
function healthOf(f: Files, name: string): Health {
  const s = svc(f, name);
  const hc = s && isObj(s.healthcheck) ? s.healthcheck : undefined;
  const base = ["services", name, "healthcheck"];
  if (hc) {
    const line = f.compose.line([...base, hc.test !== undefined ? "test" : "disable"]);
    if (hc.disable === true || hc.disable === "true")
      return { from: "compose", disabled: true, argv: [], shell: false, line: f.compose.line([...base, "disable"]), file: COMPOSE };
    const test = hc.test;
    if (typeof test === "string") return { from: "compose", disabled: test.trim() === "", argv: ["/bin/sh", "-c", test], shell: true, line, file: COMPOSE };
    if (Array.isArray(test) && test.length > 0) {
      const [kind, ...rest] = test.map((x) => str(x) ?? "");
      if (kind === "NONE") return { from: "compose", disabled: true, argv: [], shell: false, line, file: COMPOSE };
      if (kind === "CMD-SHELL") return { from: "compose", disabled: false, argv: ["/bin/sh", "-c", rest.join(" ")], shell: true, line, file: COMPOSE };
      return { from: "compose", disabled: rest.length === 0, argv: rest, shell: false, line, file: COMPOSE };
    }
  }
  if (s && (name === "api" || name === "worker") && s.build !== undefined) {
    const stage = stageOf(f, s);
    for (const st of stage ? chainOf(stage).reverse() : []) {
      const ins = [...st.instructions].reverse().find((i) => i.getKeyword().toUpperCase() === "HEALTHCHECK");
      if (!ins) continue;
      const content = ins.getArgumentsContent() ?? "";
      const m = /(?:^|\s)CMD\s+([\s\S]*)$/i.exec(content);
      const line = f.docker.line(ins);
      if (/^\s*NONE\s*$/i.test(content) || !m) return { from: "Dockerfile", disabled: true, argv: [], shell: false, line, file: DOCKERFILE };
      const args = dockerArgv(m[1]!);
      const shell = !m[1]!.trim().startsWith("[");
      return { from: "Dockerfile", disabled: false, argv: shell ? ["/bin/sh", "-c", m[1]!.trim()] : args, shell, line, file: DOCKERFILE };
    }
  }
  return { from: "none", disabled: true, argv: [], shell: false, line: f.compose.line(["services", name]), file: COMPOSE };
}

/** Why a health check's command exits 0 whatever the service's state, or undefined if it can fail. */
function cannotFail(h: Health): string | undefined {
  const trivial = /^\s*(?:true|:|\/bin\/true|\/usr\/bin\/true|exit\s+0|echo\b[^|&;]*)\s*$/;
  if (h.shell) {
    const script = h.argv[2] ?? "";
    if (trivial.test(script)) return `"${script.trim()}" always exits 0`;
    if (/(?:\|\||;)\s*(?:true|:|\/bin\/true|exit\s+0)\s*$/.test(script))
      return `"${script.trim()}" ends in a fallback that exits 0 when the test before it fails`;
    if (/\bexit\s+0\s*$/.test(script) && !/\bexit\s+1\b/.test(script) && /;/.test(script))
      return `"${script.trim()}" exits 0 at the end whatever happened before`;
    return undefined;
  }
  const [cmd = "", ...rest] = h.argv;
  const joined = h.argv.join(" ");
  if (/^(?:\/(?:usr\/)?bin\/)?true$/.test(cmd) || cmd === ":") return `${JSON.stringify(cmd)} always exits 0`;
  if (/^(?:\/(?:usr\/)?bin\/)?echo$/.test(cmd)) return `echo always exits 0`;
  if (/^(?:\/(?:usr\/)?bin\/)?(?:ba)?sh$/.test(cmd) && rest[0] === "-c")
    return cannotFail({ ...h, shell: true, argv: ["/bin/sh", "-c", rest.slice(1).join(" ")] });
  if (
    /^node$/.test(cmd) &&
    rest[0] === "-e" &&
    /process\.exit\(\s*0\s*\)/.test(joined) &&
    !/process\.exit\(\s*(?:1|[^0)][^)]*)\)/.test(joined) &&
    !/throw|statSync|readFileSync/.test(joined)
  ) {
    return "the script's only exit is process.exit(0)";
  }
  return undefined;
}

/** The target port and host binding of each entry of a service's ports. */
function portsOf(f: Files, name: string): { target: number; host: string | undefined; published: string | undefined; path: PathSeg[] }[] {
  const s = svc(f, name);
  const list = s && Array.isArray(s.ports) ? s.ports : [];
  return list.map((p, i) => {
    const path = ["services", name, "ports", i];
    if (isObj(p)) return { target: Number(p.target), host: str(p.host_ip), published: str(p.published), path };
    const spec = (str(p) ?? "").replace(/\/(?:tcp|udp|sctp)$/, "");
    // [host_ip:][published:]target, with an IPv6 host in brackets
    const m = /^(?:(\[[^\]]*\]|[^:]*):)?(?:([^:]*):)?([^:]+)$/.exec(spec);
    if (!m) return { target: NaN, host: undefined, published: undefined, path };
    const [, a, b, target] = m;
    const [host, published] = b !== undefined ? [a, b] : [undefined, a];
    return { target: Number(target!.split("-")[0]), host: host?.replace(/^\[|\]$/g, ""), published, path };
  });
}

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|::1|localhost)$/;

// ---------------------------------------------------------------------------------------------
// Secrets

// Whole words of the name (REDIS_PASSWORD, NPM_TOKEN), so BYPASS_CACHE or OAUTH_CLIENT_ID is not one.
const SECRET_NAME = /(?:^|_)(?:PASS(?:WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)(?:_|$)/i;
const NOT_A_SECRET = /_(?:FILE|PATH|DIR|ID|URL_FILE)$/i;
const isSecretName = (name: string) => SECRET_NAME.test(name) && !NOT_A_SECRET.test(name);

/** What in a value written in the compose file is a literal secret: undefined when only variables without defaults reach it. */
function literalIn(value: string): string | undefined {
  const r = interpolate(value);
  const defaults = r.uses.filter((u) => (u.op === ":-" || u.op === "-" || u.op === ":+" || u.op === "+") && interpolate(u.word).value !== "");
  if (defaults.length > 0) return `the default "${defaults[0]!.word}" of \${${defaults[0]!.name}} is written in the file`;
  // What remains once every variable is taken out is written in the file.
  const literal = value
    .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, "")
    .replace(/\$\$/g, "$")
    .trim();
  return literal !== "" ? `"${literal}" is written in the file` : undefined;
}

const PASSWORD_FLAGS = new Set(["--requirepass", "--masterauth", "-a", "--pass", "--password", "--user-password"]);
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:([^@/\s]+)@/i;

function composeSecrets(f: Files): Finding[] {
  const findings: Finding[] = [];
  const { doc, text } = f.compose;
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : text.slice(0, offset).split("\n").length);
  const scalarText = (n: unknown) => (isScalar(n) ? str(n.value) : undefined);
  const checkPair = (name: string, value: string, offset: number | undefined, shown: string) => {
    if (!isSecretName(name) || value.trim() === "") return;
    const why = literalIn(value);
    if (why) findings.push({ file: COMPOSE, line: lineAt(offset), what: `${shown}: ${why}, and the file is committed` });
  };
  visit(doc, {
    Pair(_, pair: Pair) {
      const key = scalarText(pair.key);
      const value = scalarText(pair.value);
      if (key !== undefined && value !== undefined) checkPair(key, value, (pair.key as Scalar).range?.[0], key);
    },
    Seq(_, seq) {
      const items = seq.items.map((n) => scalarText(n));
      items.forEach((item, i) => {
        if (item === undefined) return;
        const eq = /^([A-Za-z_][A-Za-z0-9_.-]*)=([\s\S]*)$/.exec(item);
        if (eq) checkPair(eq[1]!, eq[2]!, (seq.items[i] as Scalar).range?.[0], eq[1]!);
        const next = items[i + 1];
        if (PASSWORD_FLAGS.has(item) && next !== undefined) {
          const why = literalIn(next);
          if (why)
            findings.push({
              file: COMPOSE,
              line: lineAt((seq.items[i + 1] as Scalar).range?.[0]),
              what: `${item} ${next}: the password is on the command line, where docker inspect and ps show it`,
            });
        }
      });
    },
    Scalar(_, node: Scalar) {
      const s = str(node.value);
      if (s === undefined) return;
      const line = lineAt(node.range?.[0]);
      for (const use of interpolate(s).uses) {
        if (isSecretName(use.name) && (use.op === ":-" || use.op === "-") && interpolate(use.word).value !== "") {
          findings.push({ file: COMPOSE, line, what: `\${${use.name}${use.op}${use.word}}: the default is the password, written in the committed file` });
        }
      }
      const url = URL_PASSWORD.exec(s);
      if (url && literalIn(url[1]!)) findings.push({ file: COMPOSE, line, what: `a URL with the password "${url[1]}" in it` });
      const flag = /(?:^|\s)(--requirepass|--masterauth|-a|--pass(?:word)?)\s+([^\s'"]+)/.exec(s);
      if (flag && literalIn(flag[2]!)) findings.push({ file: COMPOSE, line, what: `${flag[1]} ${flag[2]}: the password is on the command line` });
    },
  });
  // One finding per line is enough to read.
  const seen = new Set<number>();
  return findings.filter((x) => !seen.has(x.line) && seen.add(x.line));
}

const SECRET_FILE = /(?:^|\/)(?:\.npmrc|\.yarnrc(?:\.yml)?|\.env(?:\.[\w-]+)?|\.netrc|\.pypirc|id_rsa|id_ed25519|[^/]*\.pem|[^/]*\.key|secrets?)(?:\/|$)/;

function dockerfileSecrets(f: Files): Finding[] {
  const findings: Finding[] = [];
  const d = f.docker;
  for (const ins of d.all) {
    const keyword = ins.getKeyword().toUpperCase();
    const content = ins.getArgumentsContent() ?? "";
    const at = (what: string): Finding => ({ file: DOCKERFILE, line: d.line(ins), what, lines: d.lines(ins) });
    if (keyword === "ENV" || keyword === "ARG") {
      const names =
        keyword === "ENV"
          ? dockerEnvPairs(content)
          : [[content.split("=")[0]!.trim(), content.includes("=") ? content.slice(content.indexOf("=") + 1) : ""] as const];
      for (const [name, value] of names) {
        if (isSecretName(name)) {
          findings.push(
            at(
              keyword === "ENV"
                ? `ENV ${name}: an ENV is stored in the image's config, where docker inspect shows it to anyone who pulls the image`
                : `ARG ${name}: a build argument used by a RUN is recorded in the image's history${value ? `, and its default "${value}" is in the committed file` : ""}`,
            ),
          );
        } else if (URL_PASSWORD.test(value)) findings.push(at(`${keyword} ${name}: a URL with a password in it, stored in the image`));
      }
    }
    if (keyword === "COPY" || keyword === "ADD") {
      const args = dockerArgv(content).filter((a) => !a.startsWith("--"));
      for (const src of args.slice(0, -1)) {
        if (SECRET_FILE.test(src.replace(/^\.\//, "")))
          findings.push(at(`${keyword} ${src}: the file is in that layer for good, even if a later step deletes it`));
      }
    }
    if (keyword === "RUN" && /_authToken=(?!\$)\S+|--requirepass\s+(?!\$)\S+|(?:password|token)=(?!\$)[A-Za-z0-9_-]{6,}/i.test(content)) {
      findings.push(at("a RUN step with a secret written into it: the command is in the image's history and its output in a layer"));
    }
  }
  return findings;
}

/** ENV's NAME=value pairs (and the legacy `ENV NAME value`). */
function dockerEnvPairs(content: string): (readonly [string, string])[] {
  const s = content.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(s)) {
    const [name = "", ...rest] = s.split(/\s+/);
    return [[name, rest.join(" ")]];
  }
  return (s.match(/[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|'[^']*'|\S*)/g) ?? []).map(
    (p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1).replace(/^["']|["']$/g, "")] as const,
  );
}

// ---------------------------------------------------------------------------------------------

export default defineChecks({
  timeoutMs: 10_000,
  checks: {
    "compose-spec-valid": async (t) => {
      const f = read(t);
      const findings: Finding[] = [];
      if (f.compose.value.version !== undefined) {
        findings.push(at(f, ["version"], `version: is obsolete; the Compose Specification has no file versions and Compose warns that it ignores the key`));
      }
      for (const e of f.compose.interpolationErrors) {
        if (!/ is required: /.test(e.message))
          findings.push(at(f, e.path, `${e.message}: Compose refuses an interpolation it cannot read (write $$ for a literal $)`));
      }
      for (const p of schemaProblems(f.compose.value)) {
        findings.push(at(f, p.path, `${p.path.length > 0 ? p.path.join(".") : "(top level)"}: ${p.message}`));
      }
      for (const [name, s] of Object.entries(f.services)) {
        if (!isObj(s)) continue;
        const deps = Array.isArray(s.depends_on) ? s.depends_on.map((d) => str(d) ?? "") : isObj(s.depends_on) ? Object.keys(s.depends_on) : [];
        deps.forEach((dep, i) => {
          if (!(dep in f.services))
            findings.push(
              at(
                f,
                ["services", name, "depends_on", Array.isArray(s.depends_on) ? i : dep],
                `${name} depends on "${dep}", which is not a service of this file`,
              ),
            );
        });
        const secrets = Array.isArray(s.secrets) ? s.secrets : [];
        secrets.forEach((sec, i) => {
          const ref = isObj(sec) ? str(sec.source) : str(sec);
          if (ref && !(isObj(f.compose.value.secrets) && ref in f.compose.value.secrets))
            findings.push(at(f, ["services", name, "secrets", i], `${name} uses the secret "${ref}", which the top-level secrets: does not declare`));
        });
      }
      report(t, f.texts, findings, {
        message: "Compose would refuse this file (checked against the published Compose Specification schema).",
        expected: "every key one Compose knows, with values of the right type, no version: key, and every referenced service and secret declared",
        hint: "Look for a misspelt key (healtcheck, depend_on, enviroment), a value in the wrong shape (a list where Compose wants a mapping), or a depends_on condition other than service_started, service_healthy or service_completed_successfully.",
      });
    },

    "services-defined": async (t) => {
      const f = read(t);
      const findings: Finding[] = [];
      const missing = QUEUE.filter((n) => !svc(f, n));
      if (missing.length > 0)
        findings.push(
          at(f, ["services"], `no service named ${missing.join(", ")}; the queue needs redis, api and worker (the names the other services and REDIS_URL use)`),
        );
      const redis = svc(f, "redis");
      if (redis) {
        const image = str(redis.image) ?? "";
        const repo = image.replace(/^(?:docker\.io\/)?(?:library\/)?/, "").split(/[:@]/)[0];
        if (redis.build !== undefined || repo !== "redis")
          findings.push(
            at(
              f,
              ["services", "redis", redis.image !== undefined ? "image" : "build"],
              `redis should run the official image (image: redis:7.4), not ${image ? `"${image}"` : "a build"}`,
            ),
          );
        for (const p of portsOf(f, "redis")) {
          if (!p.host || !LOOPBACK.test(p.host))
            findings.push(
              at(
                f,
                p.path,
                `Redis is published on every interface of the host (the official image runs without protected mode and without a password); the API and the worker reach redis:6379 without any published port`,
              ),
            );
        }
      }
      for (const name of APPS) {
        const s = svc(f, name);
        if (!s) continue;
        const build = s.build;
        const context = isObj(build) ? (str(build.context) ?? ".") : str(build);
        const dockerfile = isObj(build) ? (str(build.dockerfile) ?? "Dockerfile") : "Dockerfile";
        if (build === undefined)
          findings.push(
            at(
              f,
              ["services", name, s.image !== undefined ? "image" : ""].filter(Boolean),
              `${name} does not build the image from your Dockerfile (build: .)${s.image !== undefined ? `; image: ${str(s.image)} alone runs someone else's image` : ""}`,
            ),
          );
        else if (![".", "./"].includes(context ?? "") || dockerfile.replace(/^\.\//, "") !== "Dockerfile")
          findings.push(at(f, ["services", name, "build"], `${name} builds from ${context}/${dockerfile}, not the Dockerfile beside docker-compose.yml`));
        const target = isObj(build) ? str(build.target) : undefined;
        if (target && !f.docker.stage(target))
          findings.push(
            at(
              f,
              ["services", name, "build", "target"],
              `target "${target}" is not a stage of the Dockerfile (its stages: ${f.docker.stages.map((st) => st.name ?? `#${st.index}`).join(", ") || "none"})`,
            ),
          );
        const script = name === "api" ? "dist/api.js" : "dist/worker.js";
        const own = argv(s.command);
        const cmd = own ?? (build !== undefined ? cmdOfStage(f, stageOf(f, s)) : undefined);
        if (!cmd || !cmd.some((a) => a.replace(/^\.\//, "") === script || a.endsWith(`/${script}`))) {
          const from = own
            ? `its command is ${JSON.stringify(own)}`
            : cmd
              ? `with no command: it runs the image's CMD, ${JSON.stringify(cmd)}`
              : "with no command and no CMD in the image";
          findings.push(at(f, ["services", name, own ? "command" : ""].filter(Boolean), `${name} must run node ${script}; ${from}`));
        }
      }
      const api = svc(f, "api");
      if (api && !portsOf(f, "api").some((p) => p.target === 3000))
        findings.push(
          at(
            f,
            ["services", "api", api.ports !== undefined ? "ports" : ""].filter(Boolean),
            `the API listens on 3000 in its container, and no ports: entry maps to container port 3000`,
          ),
        );
      const worker = svc(f, "worker");
      if (worker?.container_name !== undefined)
        findings.push(
          at(f, ["services", "worker", "container_name"], `container_name on the worker: names must be unique, so docker compose up --scale worker=3 fails`),
        );
      for (const p of worker ? portsOf(f, "worker") : [])
        if (p.published) findings.push(at(f, p.path, `a fixed host port on the worker: only one replica can bind it, and the worker serves no HTTP`));
      report(t, f.texts, findings, {
        message: "The services are not the queue the lessons build.",
        expected:
          "redis from image redis:7.4 (not published); api and worker with build: . and commands node dist/api.js and node dist/worker.js; the API's container port 3000 published; the worker scalable (no container_name, no host port)",
        hint: "One image serves both: give api and worker build: . and their own command. Services reach each other by name on the project network, so only the API needs ports:, and a service you scale cannot have a fixed name or host port.",
      });
    },

    "named-volume": async (t) => {
      const f = read(t);
      const findings: Finding[] = [];
      const redis = svc(f, "redis");
      const declared = isObj(f.compose.value.volumes) ? Object.keys(f.compose.value.volumes) : [];
      if (!redis)
        return t.fail({
          message: "There is no redis service, so nothing keeps Redis's data.",
          hint: "Add a redis service (image: redis:7.4) with a named volume at /data.",
        });
      const list = Array.isArray(redis.volumes) ? redis.volumes : [];
      let good = false;
      list.forEach((v, i) => {
        const path = ["services", "redis", "volumes", i];
        let type: string, source: string | undefined, target: string | undefined, readOnly: boolean;
        if (isObj(v)) {
          type = str(v.type) ?? "volume";
          source = str(v.source);
          target = str(v.target);
          readOnly = v.read_only === true;
        } else {
          const parts = (str(v) ?? "").split(":");
          if (parts.length === 1) [source, target] = [undefined, parts[0]];
          else [source, target] = [parts[0], parts[1]];
          readOnly = (parts[2] ?? "").split(",").includes("ro");
          type = source === undefined ? "volume" : /^[./~]/.test(source) ? "bind" : "volume";
        }
        const t0 = (target ?? "").replace(/\/+$/, "");
        if (t0 !== "/data") {
          if (source && declared.includes(source))
            findings.push(
              at(
                f,
                path,
                `the named volume ${source} is mounted at ${target}, but Redis (the official image) writes its files to /data, so they stay in the container`,
              ),
            );
          return;
        }
        if (type === "bind")
          findings.push(
            at(
              f,
              path,
              `a bind mount of the host path ${source} at /data: the entrypoint chowns it to uid 999, it is slow on Docker Desktop, and the data's life is tied to a directory; use a named volume`,
            ),
          );
        else if (type === "tmpfs") findings.push(at(f, path, `a tmpfs at /data lives in memory and is gone with the container`));
        else if (!source) findings.push(at(f, path, `an anonymous volume at /data: docker compose down orphans it, and the next up starts with an empty one`));
        else if (!declared.includes(source))
          findings.push(at(f, path, `the volume ${source} is not declared under the top-level volumes:, so Compose refuses the file`));
        else if (readOnly) findings.push(at(f, path, `mounted read-only: Redis cannot write its append-only file or snapshot`));
        else good = true;
      });
      if (
        Array.isArray(redis.tmpfs)
          ? redis.tmpfs.some((x) => String(x).replace(/\/+$/, "").split(":")[0] === "/data")
          : str(redis.tmpfs)?.replace(/\/+$/, "") === "/data"
      ) {
        findings.push(at(f, ["services", "redis", "tmpfs"], `a tmpfs at /data lives in memory and is gone with the container`));
        good = false;
      }
      if (!good && findings.length === 0) {
        findings.push(
          at(
            f,
            ["services", "redis", redis.volumes !== undefined ? "volumes" : ""].filter(Boolean),
            list.length === 0
              ? `redis mounts nothing at /data: the image's VOLUME /data gives it an anonymous volume, which docker compose down orphans, so the next up starts empty`
              : `nothing is mounted at /data, where Redis keeps its data`,
            true,
          ),
        );
        if (declared.length > 0) findings.push(at(f, ["volumes"], `declared here (${declared.join(", ")}) but not mounted at Redis's /data`));
      }
      report(t, f.texts, findings, {
        message: "Redis's data would not survive docker compose down and up.",
        expected: "redis mounts a named volume declared under the top-level volumes: at /data, read-write (e.g. redis-data:/data)",
        hint: "A container's writable layer goes with the container. A named volume is storage Docker keeps until down -v; declare it at the top level and mount it where the Redis image writes.",
      });
    },

    "env-config": async (t) => {
      const f = read(t);
      const findings: Finding[] = [];
      for (const name of APPS) {
        const s = svc(f, name);
        if (!s) continue;
        const env = s.environment;
        let value: string | undefined;
        let path: PathSeg[] = ["services", name, env !== undefined ? "environment" : ""].filter(Boolean);
        if (isObj(env) && "REDIS_URL" in env) {
          value = str(env.REDIS_URL) ?? "";
          path = ["services", name, "environment", "REDIS_URL"];
        } else if (Array.isArray(env)) {
          const i = env.findIndex((x) => /^REDIS_URL(?:=|$)/.test(str(x) ?? ""));
          if (i >= 0) {
            const item = str(env[i])!;
            value = item.includes("=") ? item.slice(item.indexOf("=") + 1) : "";
            path = ["services", name, "environment", i];
          }
        }
        const raw = f.compose.raw(path) ?? "";
        if (value === undefined) findings.push(at(f, path, `${name} gets no REDIS_URL in environment:; without it the code has no Redis to reach`));
        else if (value.trim() === "") {
          const refused = f.compose.interpolationErrors.find((e) => e.path.join("/") === path.join("/"));
          const why = refused
            ? `${raw.trim()} stops docker compose up when it is unset`
            : raw.includes("$")
              ? `${raw.trim()} has no default, and Compose substitutes ""`
              : "no value";
          findings.push(
            at(f, path, `REDIS_URL is empty on a fresh checkout (${why}); the compose file is where Redis's address is known: give it redis://redis:6379`),
          );
        } else {
          const url = URL.canParse(value) ? new URL(value) : undefined;
          if (!url || (url.protocol !== "redis:" && url.protocol !== "rediss:")) findings.push(at(f, path, `REDIS_URL=${value} is not a redis:// URL`));
          else if (/^(?:localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/.test(url.hostname))
            findings.push(
              at(
                f,
                path,
                `REDIS_URL points at ${url.hostname}, which inside the ${name} container is the ${name} container itself; Redis is the service named redis`,
              ),
            );
          else if (url.hostname !== "redis")
            findings.push(at(f, path, `REDIS_URL's host is ${url.hostname}, but Docker's DNS on the project network knows Redis by its service name, redis`));
          else if (url.port !== "" && url.port !== "6379")
            findings.push(
              at(f, path, `REDIS_URL's port is ${url.port}; Redis listens on 6379 in its container (a published host port does not apply between containers)`),
            );
        }
        const files = s.env_file === undefined ? [] : Array.isArray(s.env_file) ? s.env_file : [s.env_file];
        files.forEach((e, i) => {
          const file = isObj(e) ? str(e.path) : str(e);
          const p = ["services", name, "env_file", ...(Array.isArray(s.env_file) ? [i] : [])];
          if (file && /^(?:\/|~|[A-Za-z]:[\\/])/.test(file))
            findings.push(
              at(
                f,
                p,
                `env_file: ${file} is a path on one machine; on any other checkout it does not exist and docker compose up stops. Use a path relative to the project (worker.env)`,
              ),
            );
        });
      }
      report(t, f.texts, findings, {
        message: "The services would not get their configuration from the environment on every machine.",
        expected:
          "api and worker each get REDIS_URL=redis://redis:6379 in environment: (written out, or ${VAR:-default}) on a fresh checkout; env_file paths relative to the project",
        hint: "The compose file is the deployment's configuration: name Redis by its service name, give interpolated variables a default with ${VAR:-default} when a fresh checkout must start, and keep paths relative to the project directory.",
      });
    },

    healthchecks: async (t) => {
      const f = read(t);
      const findings: Finding[] = [];
      const slim = runtimeStages(f).some((st) => /-slim\b|distroless/.test(chainOf(st)[0]!.image));
      for (const name of QUEUE) {
        if (!svc(f, name)) continue;
        const h = healthOf(f, name);
        const where = (what: string): Finding => ({
          file: h.file,
          line: h.line,
          what,
          lines: h.file === COMPOSE ? [f.compose.line(["services", name, "healthcheck"])] : undefined,
        });
        if (h.from === "none") {
          findings.push(
            at(
              f,
              ["services", name],
              `${name} has no health check, so nothing can wait for it to be ready${name === "redis" ? " (it accepts connections while it answers LOADING)" : ""}`,
            ),
          );
          continue;
        }
        if (h.disabled) {
          findings.push(where(`${name}'s health check is disabled (disable: true, NONE or an empty test), so it never becomes healthy`));
          continue;
        }
        const why = cannotFail(h);
        if (why) {
          findings.push(where(`${name}'s health check cannot fail: ${why}, so it reports healthy whatever state ${name} is in`));
          continue;
        }
        const text = h.argv.join(" ");
        if (name === "redis") {
          const cli = h.shell ? /\bredis-cli\b/.test(text) : /(?:^|\/)redis-cli$/.test(h.argv[0] ?? "");
          // -e, or the shell comparing the reply with PONG (grep PONG, [ "$(redis-cli ping)" = PONG ]).
          const strict = h.shell ? /\bredis-cli\b[^|;&]*\s-e\b/.test(text) || /PONG/.test(text) : h.argv.includes("-e");
          if (!cli) findings.push(where(`redis's health check does not ask Redis (redis-cli ping): ${JSON.stringify(h.argv)}`));
          else if (!strict)
            findings.push(
              where(
                `redis-cli exits 0 for any reply, errors included, so this check reports a Redis that answers LOADING as healthy; add -e (or check for PONG)`,
              ),
            );
        } else {
          const tool = /(?:^|[\s/"'])(curl|wget)(?=\s|$)/.exec(text)?.[1];
          if (tool && slim)
            findings.push(
              where(
                `${tool} is not in the node:…-slim image the service runs, so this check fails every time and ${name} never becomes healthy; the image has node`,
              ),
            );
          if (name === "api") {
            const ports = [...text.matchAll(/(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]):(\d+)/g)].map((m) => m[1]);
            const wrong = ports.find((p) => p !== "3000");
            if (wrong)
              findings.push(
                where(
                  `the check runs inside the API's container and asks port ${wrong}, but the API listens on 3000 there (${wrong} is at most the host's side of the mapping)`,
                ),
              );
          }
        }
      }
      report(t, f.texts, findings, {
        message: "Not every service has a health check that tells ready from started.",
        expected:
          "redis, api and worker each with an enabled health check that can fail: redis-cli -e ping for Redis, the API's /healthz on port 3000, the worker's heartbeat file, using only what the image contains",
        hint: "A health check is a command the engine runs inside the container; exit 0 is healthy. It must be able to exit non-zero when the service cannot do its job, and a reply that is an error is not readiness.",
      });
    },

    "depends-on-healthy": async (t) => {
      const f = read(t);
      const findings: Finding[] = [];
      for (const name of APPS) {
        const s = svc(f, name);
        if (!s) continue;
        const d = s.depends_on;
        const base = ["services", name, "depends_on"];
        if (d === undefined) findings.push(at(f, ["services", name], `${name} has no depends_on: Compose starts it at the same moment as Redis`));
        else if (Array.isArray(d)) {
          const i = d.findIndex((x) => str(x) === "redis");
          findings.push(
            at(
              f,
              i >= 0 ? [...base, i] : base,
              i >= 0
                ? `depends_on: [redis], the short form, waits only for the container to start (condition: service_started), not for Redis to answer`
                : `${name} does not depend on redis`,
              true,
            ),
          );
        } else if (isObj(d)) {
          const r = d.redis;
          if (!isObj(r) && r !== null && r !== undefined) findings.push(at(f, [...base, "redis"], `depends_on.redis is not a mapping with a condition`));
          else if (r === undefined) findings.push(at(f, base, `${name} does not depend on redis`, true));
          else {
            const condition = str(isObj(r) ? r.condition : undefined) ?? "service_started";
            const known = ["service_started", "service_healthy", "service_completed_successfully"].includes(condition);
            if (!known)
              findings.push(
                at(
                  f,
                  [...base, "redis", "condition"],
                  `condition ${condition} is not one Compose knows (service_started, service_healthy, service_completed_successfully), so it refuses the file`,
                ),
              );
            else if (condition !== "service_healthy")
              findings.push(
                at(
                  f,
                  [...base, "redis", isObj(r) && r.condition !== undefined ? "condition" : ""].filter(Boolean),
                  `condition ${isObj(r) && r.condition !== undefined ? condition : "(none, which means service_started)"}: Compose waits only for the container to ${condition === "service_completed_successfully" ? "exit 0, which Redis never does" : "start, while Redis may still refuse connections or answer LOADING"}`,
                ),
              );
            if (isObj(r) && (r.required === false || r.required === "false"))
              findings.push(at(f, [...base, "redis", "required"], `required: false lets ${name} start without Redis at all`));
          }
        }
      }
      const h = svc(f, "redis") ? healthOf(f, "redis") : undefined;
      if (h && (h.from === "none" || h.disabled) && findings.length === 0) {
        findings.push({
          file: h.file,
          line: h.line,
          what: `service_healthy on redis, but redis has no enabled health check: docker compose up refuses to wait for a health that is never reported`,
        });
      }
      report(t, f.texts, findings, {
        message: "The API and the worker do not wait for Redis to be ready.",
        expected: "api and worker: depends_on: { redis: { condition: service_healthy } }, with Redis's health check enabled",
        hint: "The short form of depends_on means service_started. Use the long form, a mapping from the service's name to its condition, and pick the condition that waits for the health check.",
      });
    },

    "worker-restart": async (t) => {
      const f = read(t);
      const worker = svc(f, "worker");
      if (!worker) return t.fail({ message: "There is no worker service.", hint: 'Add the worker service (build: ., command: ["node", "dist/worker.js"]).' });
      const restart = str(worker.restart);
      const deploy = isObj(worker.deploy) && isObj(worker.deploy.restart_policy) ? (str(worker.deploy.restart_policy.condition) ?? "any") : undefined;
      const ok =
        (restart !== undefined && /^(?:always|unless-stopped|on-failure(?::\d+)?)$/.test(restart)) ||
        (deploy !== undefined && /^(?:any|on-failure)$/.test(deploy));
      if (ok) return;
      report(
        t,
        f.texts,
        [
          at(
            f,
            ["services", "worker", restart !== undefined ? "restart" : ""].filter(Boolean),
            restart !== undefined
              ? `restart: ${restart} never brings a worker back after it exits`
              : `the worker has no restart policy: a worker that exits (a bad setting, a deadline to reach Redis, a stuck loop it noticed) stays down`,
          ),
        ],
        {
          message: "A worker that exits would stay down.",
          expected: "restart: unless-stopped (or always, or on-failure) on the worker",
          hint: "Under Compose nothing restarts an unhealthy container; only a restart policy brings back one whose process exited, and the worker exits on purpose when it cannot go on.",
        },
      );
    },

    "no-secrets-in-files": async (t) => {
      const f = read(t);
      report(t, f.texts, [...composeSecrets(f), ...dockerfileSecrets(f)], {
        message: "A secret is written into a file that is committed or baked into the image.",
        expected:
          "no password, token or key in docker-compose.yml (not as a value, an interpolation default, a command argument or in a URL) or in the Dockerfile (ENV, ARG, a copied file, a RUN)",
        hint: "A compose file is committed and an image's config and layers go to everyone who pulls it. Pass a secret as a file: Compose secrets: mounts it at /run/secrets/<name>, and a *_FILE variable names the path; a build secret comes through RUN --mount=type=secret.",
      });
    },

    "dockerfile-multi-stage": async (t) => {
      const f = read(t);
      const d = f.docker;
      const findings: Finding[] = [];
      if (d.stages.length === 0) findings.push({ file: DOCKERFILE, line: 1, what: "no FROM: this is not a Dockerfile BuildKit can build" });
      else if (d.stages.length === 1) {
        const only = d.stages[0]!;
        findings.push({
          file: DOCKERFILE,
          line: d.line(only.from),
          what: `one stage (FROM ${only.image}): the compiler, the dev dependencies and the source ship in the image that runs`,
          lines: d.all.filter((i) => /^(?:RUN|COPY|ADD)$/i.test(i.getKeyword())).map((i) => d.line(i)),
        });
      } else {
        for (const stage of runtimeStages(f)) {
          const chain = chainOf(stage);
          const inChain = new Set(chain);
          const copies = chain.flatMap((st) => st.instructions.filter((i) => i.getKeyword().toUpperCase() === "COPY"));
          const fromBuild = copies.filter((c) => {
            const ref = /--from=(\S+)/i.exec(c.getTextContent())?.[1];
            const src = ref ? d.stage(ref) : undefined;
            return src !== undefined && !inChain.has(src) && src.index < stage.index;
          });
          const label = stage.name ?? `#${stage.index}`;
          if (chain.length > 1) {
            findings.push({
              file: DOCKERFILE,
              line: d.line(stage.from),
              what: `the runtime stage ${label} is built FROM ${stage.image}, an earlier stage, so everything that stage installed and compiled ships too; start it FROM a base image`,
              lines: chain.slice(0, -1).map((st) => d.line(st.from)),
            });
          } else if (fromBuild.length === 0) {
            findings.push({
              file: DOCKERFILE,
              line: d.line(stage.from),
              what: `the runtime stage ${label} takes nothing from a build stage (no COPY --from=<stage>): it either ships no compiled code or builds it in place`,
            });
          }
        }
      }
      report(t, f.texts, findings, {
        message: "The image is not a multi-stage build that ships only what runs.",
        expected:
          "a build stage (FROM node:20-bookworm-slim AS build: npm ci, compile, prune) and a final stage FROM a base image again that COPY --from=build only package.json, node_modules and dist",
        hint: "Each FROM starts a stage; the image is the last one (or the build target). Start the last stage from the slim base image again and copy the build's output into it with COPY --from.",
      });
    },

    "dockerfile-non-root": async (t) => {
      const f = read(t);
      const d = f.docker;
      const findings: Finding[] = [];
      const argDefault = (name: string, stage: Stage) => {
        const args = [...d.globalArgs, ...chainOf(stage).flatMap((s) => s.instructions)].filter(
          (i) => i.getKeyword().toUpperCase() === "ARG" || i.getKeyword().toUpperCase() === "ENV",
        );
        for (const a of args.reverse()) {
          const pairs =
            a.getKeyword().toUpperCase() === "ENV"
              ? dockerEnvPairs(a.getArgumentsContent() ?? "")
              : [[(a.getArgumentsContent() ?? "").split("=")[0]!.trim(), (a.getArgumentsContent() ?? "").split("=").slice(1).join("=")] as const];
          const hit = pairs.find(([n]) => n === name);
          if (hit) return hit[1] || undefined;
        }
        return undefined;
      };
      for (const stage of runtimeStages(f)) {
        const users = chainOf(stage).flatMap((s) => s.instructions.filter((i) => i.getKeyword().toUpperCase() === "USER"));
        const label = stage.name ?? `#${stage.index}`;
        if (users.length === 0) {
          const elsewhere = d.all.filter((i) => i.getKeyword().toUpperCase() === "USER");
          findings.push({
            file: DOCKERFILE,
            line: d.line(stage.from),
            what:
              elsewhere.length > 0
                ? `the USER at line ${elsewhere.map((i) => d.line(i)).join(", ")} is in another stage; the runtime stage ${label} has none, so its processes run as root`
                : `no USER: the API and the worker run as root (uid 0)`,
            lines: elsewhere.map((i) => d.line(i)),
          });
          continue;
        }
        const last = users.at(-1)!;
        let user = (last.getArgumentsContent() ?? "").trim().split(":")[0]!;
        const v = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(user);
        if (v) {
          const resolved = argDefault(v[1]!, stage);
          if (resolved === undefined) {
            findings.push({
              file: DOCKERFILE,
              line: d.line(last),
              what: `USER ${user}: ${v[1]} has no default, so an ordinary build gives an empty user, which is root`,
            });
            continue;
          }
          user = resolved.split(":")[0]!;
        }
        if (user === "" || user === "root" || /^0+$/.test(user)) {
          const earlier = users.slice(0, -1).map((i) => d.line(i));
          findings.push({
            file: DOCKERFILE,
            line: d.line(last),
            what: earlier.length > 0 ? `USER ${user} after a non-root USER: from here on, the container's command runs as root again` : `USER ${user} is root`,
            lines: earlier,
          });
        }
      }
      if (d.stages.length === 0) findings.push({ file: DOCKERFILE, line: 1, what: "no FROM: there is no image to run as any user" });
      report(t, f.texts, findings, {
        message: "The API and the worker would run as root in their containers.",
        expected: "the last USER of the stage the services run is a user other than root (USER node, or USER 1000:1000)",
        hint: "The official Node images include an unprivileged user, node (uid 1000). Switch to it in the stage that runs, after the steps that need root, and do not switch back.",
      });
    },
  },
});
