# syntax=docker/dockerfile:1
# One image for every xiaoneng service. A container runs one of them:
#   python -m deploy.entrypoint <appeals|approvals|scoring|notify> --config /etc/xiaoneng/config/<service>.yaml
# (migrations first, then `nameko run`); `python -m deploy apply-broker ...` applies a node's broker definitions.
# The compose files rendered by `python -m deploy render` use it that way (deploy/README.md).

# -- build: dependencies into a virtualenv (every dependency ships a wheel: no compiler in the image) ----------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY deploy ./deploy
RUN pip install . && python -m compileall -q /opt/venv

# -- runtime: the virtualenv and the source tree (migrations, templates, static files), run as a non-root user --
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 xiaoneng \
 && useradd --system --uid 10001 --gid xiaoneng --home-dir /opt/xiaoneng --shell /usr/sbin/nologin xiaoneng \
 && mkdir -p /opt/xiaoneng /var/lib/xiaoneng /etc/xiaoneng \
 && chown xiaoneng:xiaoneng /var/lib/xiaoneng
COPY --from=build /opt/venv /opt/venv
WORKDIR /opt/xiaoneng
COPY alembic.ini ./
COPY services ./services
COPY deploy ./deploy
# The source tree comes first on the path: Alembic's script directories and the templates are read from it.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/opt/xiaoneng PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER xiaoneng:xiaoneng
EXPOSE 8001 8002 8003 8004
VOLUME ["/var/lib/xiaoneng"]
CMD ["python", "-m", "deploy", "--help"]
