# deployer as a pipeline step:
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" deployer rollout plan.yaml
# Stage 1 builds the wheel; stage 2 installs it with its pinned dependencies into a venv
# on a slim base, no test dependencies, no demo (moto); it runs as uid 10001 by default
# and under any uid given with --user (nothing in the image needs a home or a name).

FROM python:3.12.8-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY deployer ./deployer
COPY strategies ./strategies
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.12.8-slim-bookworm
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="deployer" \
      org.opencontainers.image.description="Progressive delivery for AWS Lambda aliases and ECS services behind an ALB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/opt/deployer/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
# Pinned dependencies (make lock): the same commit builds the same image.
COPY constraints/image.txt /wheels/constraints.txt
RUN python -m venv /opt/deployer \
    && for wheel in /wheels/*.whl; do \
         /opt/deployer/bin/pip install --constraint /wheels/constraints.txt "${wheel}[dashboard]"; \
       done \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 deployer
USER 10001
WORKDIR /work
ENTRYPOINT ["deployer"]
CMD ["--help"]
