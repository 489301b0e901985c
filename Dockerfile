# syntax=docker/dockerfile:1
#
# One image for every Faultline role: docker-compose.yml runs it as the web server (the default
# command), as the grading runner (`npm run runner`) and as the one-shot migration job
# (`npm run db:migrate`). See docs/self-hosting.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app

# better-sqlite3 falls back to a node-gyp build when no prebuilt binary matches the platform, and
# that needs a compiler and Python. They stay in this stage; the runtime image never compiles.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*

# Faultline uses Prisma's client engine with driver adapters, so no native Prisma engine is ever
# run. Pointing these at any existing file stops Prisma's install scripts from downloading
# engines (the same trick scripts/prisma.ts uses), which keeps the build working offline.
ENV PRISMA_SCHEMA_ENGINE_BINARY=/usr/local/bin/node \
    PRISMA_QUERY_ENGINE_LIBRARY=/usr/local/bin/node \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    CHECKPOINT_DISABLE=1 \
    NEXT_TELEMETRY_DISABLED=1

# .npmrc makes an install fail on any dependency install script not reviewed in package.json's
# allowScripts (npm 12 skips unreviewed ones by default; the app needs better-sqlite3's).
COPY package.json package-lock.json .npmrc ./
# postinstall generates the Prisma clients (scripts/prisma.ts reads prisma/models.prisma), so
# both folders must be present before `npm ci`. The generated clients land in lib/db/generated
# and prisma/generated, which .dockerignore keeps the host's copies from overwriting later.
COPY prisma ./prisma
COPY scripts ./scripts
# `npm install` rather than `npm ci`: the lockfile is made where the registry serves only
# linux-x64 optional binaries, and `npm ci` rejects it for lacking the other platforms' entries.
RUN npm install --no-audit --no-fund

# ---------------------------------------------------------------------------------------------
# Built on top of deps rather than copying from it, so the generated Prisma clients and the
# dev dependencies `next build` needs (Tailwind, PostCSS, TypeScript) are already in place.
FROM deps AS build
COPY . .
# Git does not keep empty folders, so in a fresh clone some of these may be missing; creating
# them here lets the runtime stage copy every one of them unconditionally.
RUN mkdir -p app components lib content labs prisma public scripts \
    && npm run build

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

# `npm run runner` needs both on its host: bubblewrap is the sandbox for learner code, and
# redis-server must be on PATH too (iproute2 brings up loopback in the fallback `unshare` tier,
# for hosts where bubblewrap cannot run). It also lets `npm start` run everything in one container.
# Debian's packages rather than builds from source, so security updates come with the base.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap redis-server iproute2 \
    && rm -rf /var/lib/apt/lists/*

# HOST=0.0.0.0 because the default (127.0.0.1) would only accept connections from inside the
# container itself. The data dir is pinned to an absolute path so every role agrees on it.
# npm runs scripts through `sh -c`, and Debian's dash forks instead of exec'ing the command, so
# `docker stop`'s SIGTERM reaches npm and the shell but never node: the web would not drain and
# a runner would not deregister before being killed. bash exec's a lone command, leaving
# npm -> node, and npm forwards SIGTERM to it.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    FAULTLINE_DATA_DIR=/app/.data \
    NEXT_TELEMETRY_DISABLED=1 \
    npm_config_script_shell=/bin/bash \
    npm_config_update_notifier=false

# Copied from the build stage, not the build context: that is where the generated Prisma
# clients (lib/db/generated) and the created-if-missing empty folders live. Everything is owned
# by root and read-only to the app, except what it writes at run time: Next's cache in .next
# and FAULTLINE_DATA_DIR (a generated AUTH_SECRET, SQLite, logs when run with `npm start`).
COPY --from=build /app/package.json /app/package-lock.json /app/next.config.mjs /app/postcss.config.mjs /app/tsconfig.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/app ./app
COPY --from=build /app/components ./components
COPY --from=build /app/lib ./lib
COPY --from=build /app/content ./content
COPY --from=build /app/labs ./labs
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/public ./public
COPY --from=build /app/scripts ./scripts
COPY --from=build --chown=node:node /app/.next ./.next
RUN mkdir -p /app/.data && chown node:node /app/.data

# The node user (uid 1000) ships with the base image. Learner code runs in the runner's
# sandbox, but should it ever escape, it should not be root in the container.
USER node

EXPOSE 3000

# Liveness only: /api/health says this process serves requests without touching the database
# or Redis, so a database outage does not mark every web container unhealthy at once (and get
# them replaced by an orchestrator that does that). docker-compose.yml checks /api/ready
# instead, and disables this check for the runner and migrate roles, which serve no HTTP.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["npm", "run", "web"]
