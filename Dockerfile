# pika-migrate: small runtime image (Node slim + rsync), non-root.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# rsync: Pika 3.2–3.4 masters push the snapshot into an rsync daemon that pika-migrate runs.
# redis-tools: redis-cli for the health check and for operators (SLAVEOF, INFO).
RUN apt-get update \
 && apt-get install -y --no-install-recommends rsync redis-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /pika-migrate
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json pika.conf.example ./
RUN mkdir -p conf log dbsync && cp pika.conf.example conf/pika.conf \
 && chown -R node:node /pika-migrate
USER node
# Conf, logs and the received snapshot live in volumes; any key can be overridden with
# PIKA_MIGRATE_<KEY> (dashes as underscores), e.g. PIKA_MIGRATE_TARGET_REDIS_HOST.
VOLUME ["/pika-migrate/conf", "/pika-migrate/log", "/pika-migrate/dbsync"]
ENV PIKA_MIGRATE_LOG_PATH=/pika-migrate/log/ PIKA_MIGRATE_DB_SYNC_PATH=/pika-migrate/dbsync/
# 9222: admin port; 10222: rsync daemon that Pika 3.2–3.4 masters push the snapshot to (port+1000).
EXPOSE 9222 10222
# Runs inside the container, so protected mode serves it; NOAUTH (a requirepass set in the conf
# file, not the environment) still shows the daemon is up.
HEALTHCHECK --interval=15s --timeout=3s CMD redis-cli -p "${PIKA_MIGRATE_PORT:-9222}" ${PIKA_MIGRATE_REQUIREPASS:+-a "$PIKA_MIGRATE_REQUIREPASS" --no-auth-warning} ping | grep -qE 'PONG|NOAUTH' || exit 1
# The CLI itself (its shebang carries glibc's and V8's heap settings), not `node …`, which would drop them.
ENTRYPOINT ["/pika-migrate/dist/src/cli.js"]
CMD ["-c", "/pika-migrate/conf/pika.conf"]
