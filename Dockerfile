# newsbrief: docker run -v newsbrief-data:/data -e SLACK_BOT_TOKEN=... newsbrief
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSBRIEF_STORE_PATH=/data/newsbrief.db

WORKDIR /app
# Dependencies first, from the pinned pyproject.toml, so code changes reuse this layer.
COPY pyproject.toml README.md ./
RUN mkdir bot adapters && touch bot/__init__.py adapters/__init__.py \
    && pip install . && pip uninstall -y newsbrief
COPY bot ./bot
COPY adapters ./adapters
COPY seeds ./seeds
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 newsbrief \
    && mkdir -p /data && chown newsbrief /data

USER newsbrief
VOLUME /data
CMD ["python", "-m", "bot", "run"]
