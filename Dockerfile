# The Ballast data plane image.
#
# Build the bundle first (`npm run bundle` writes build/image/), then `docker build .`.
# BASE_IMAGE defaults to a pinned official Node 24 LTS image; where no registry can be reached
# (as on our CI machines) pass a local base holding the same node binary:
#   docker build --build-arg BASE_IMAGE=ballast-base-node:24.21.0 -t ballast-dataplane .
ARG BASE_IMAGE=node:24.21.0-bookworm-slim
FROM ${BASE_IMAGE}

WORKDIR /app
COPY build/image/ /app/
# An empty state directory owned by the runtime user: a named volume mounted here inherits it.
COPY --chown=1000:1000 build/state/ /var/lib/ballast/

ENV NODE_ENV=production \
    BALLAST_ADMIN_ADDR=0.0.0.0:9180 \
    BALLAST_STATE_DIR=/var/lib/ballast \
    BALLAST_LOG_LEVEL=info

# The state volume must be writable by the unprivileged user the balancer runs as.
USER 1000:1000
VOLUME ["/var/lib/ballast"]
EXPOSE 9180

HEALTHCHECK --interval=10s --timeout=4s --start-period=5s --retries=3 CMD ["node", "/app/healthcheck.js"]
# SIGTERM: stop accepting, drain for up to BALLAST_SHUTDOWN_GRACE_MS (8 s < docker's 10 s), exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/main.js"]
