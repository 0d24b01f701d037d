# Proofline: a two-stage image. The build stage compiles TypeScript with every dependency; the
# runtime stage holds only the compiled JavaScript, the production dependencies and package.json,
# and runs as the image's unprivileged `node` user. See docs/deploy.md.
#
# This file has not been built on the machine it was written on (no Docker engine there);
# docs/deploy.md says what was checked instead.

# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
# @scarf/scarf (pulled in by swagger-ui-dist) reports installs to a third party unless told not to.
ENV SCARF_ANALYTICS=false \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Dependencies first, so a source change does not reinstall them. .npmrc carries engine-strict.
COPY package.json package-lock.json .npmrc ./
RUN npm ci

# tsconfig.build.json compiles src/, contracts/, projections/ and migrations/ (and bench/, which
# the image does not need and .dockerignore leaves out) into dist/. The envelope JSON schema is
# imported, so tsc copies it into dist/contracts/schemas/.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY contracts ./contracts
COPY projections ./projections
COPY migrations ./migrations
RUN npm run build \
 && test -f dist/src/main.js \
 && test -f dist/src/cli/main.js \
 && npm prune --omit=dev

# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    PROOFLINE_DATA_DIR=/app/data
WORKDIR /app

# Code and dependencies belong to root and are read-only for the process; only the data dir
# (generated signing keys, the generated token secret, the embedded database) is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/contracts ./dist/contracts
COPY --from=build /app/dist/projections ./dist/projections
COPY --from=build /app/dist/migrations ./dist/migrations
# Mount a volume here (docker-compose.yml does): a new named volume takes this owner and mode.
RUN mkdir -p /app/data && chown node:node /app/data && chmod 0700 /app/data

USER node
EXPOSE 3000

# No curl in the slim image: node asks /health itself (200 when the event store and the signing
# key are ready, 503 otherwise).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).setTimeout(4000, () => process.exit(1))"]

# `node` directly (not npm start, which would rebuild): it receives SIGTERM and shuts down
# through Nest's shutdown hooks. The CLI is in the same image: node dist/src/cli/main.js <command>.
CMD ["node", "dist/src/main.js"]
