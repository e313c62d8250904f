# newsbrief: the bot in a container. See "Deploy with Docker" in README.md and compose.yaml.
#
#   docker build -t newsbrief .
#   docker run -d --env-file .env -v newsbrief-data:/data \
#     -v "$PWD/config.toml:/config/config.toml:ro" -e NEWSBRIEF_CONFIG=/config/config.toml newsbrief
#
# tests/test_container.py lints this file with hadolint and replays its COPY and RUN steps in a
# fresh virtual environment, then starts its CMD: keep RUN steps to pip, python and the user setup.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed, unprivileged UID/GID, so a host directory mounted on /data can be chowned to match.
RUN groupadd --system --gid 10001 newsbrief \
    && useradd --system --uid 10001 --gid newsbrief --create-home --shell /usr/sbin/nologin newsbrief \
    && mkdir -p /data \
    && chown newsbrief:newsbrief /data

WORKDIR /app

# Dependencies alone, pinned in pyproject.toml and listed with the stdlib's tomllib: this layer is
# rebuilt only when pyproject.toml changes, and reused for every code edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
    && pip install --no-cache-dir --requirement requirements.txt \
    && rm requirements.txt

# The code (README.md is the package's long description), then sample articles for a first try:
# docker run --rm -it newsbrief python -m bot run seeds/
COPY README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY seeds ./seeds
# --no-deps: everything came from the layer above; pip check fails the build if that missed any.
RUN pip install --no-cache-dir --no-deps . \
    && pip check \
    && rm -rf build newsbrief.egg-info

# The database lives on the volume; Slack's HTTP mode must listen beyond the container's loopback.
# The environment wins over a mounted config.toml, so these hold even with config.example.toml.
ENV NEWSBRIEF_STORE_PATH=/data/newsbrief.db \
    NEWSBRIEF_SLACK_HOST=0.0.0.0
VOLUME ["/data"]
# Slack HTTP mode ([slack] mode = "http"); Socket Mode and Discord need no inbound port.
EXPOSE 3000

USER 10001:10001

# Liveness, not readiness: /readyz also fails while Slack, Discord or a feed is unreachable, which
# restarting this container would not fix. (It exits 2 only for a bad config, which has already
# stopped the bot itself.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "health", "--live"]

# The bot finishes in-flight sends for run.shutdown_timeout (10 s) after SIGTERM: give
# `docker stop` more than that (compose.yaml sets stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
