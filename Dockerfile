# SPDX-License-Identifier: Apache-2.0
# One image for the webhook Deployment, the agent DaemonSet, the certgen Job
# and the CLI. Build: `make image` (docker, podman or buildah), or
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t podtuner:dev .
#
# Stage 1 builds with Debian 12's compiler and -dev packages (the BUILD list
# of scripts/deps.sh). Stage 2 is debian:12-slim plus only the libraries the
# binary links: its DT_NEEDED entries (`readelf -d build/rel/podtuner`) are
# libmicrohttpd.so.12, libcjson.so.1, libyaml-0.so.2, libcurl.so.4,
# libcrypto.so.3, libgnutls.so.30, libm.so.6 and libc.so.6, which `dpkg -S`
# maps to the packages below (libm and libc are libc6, already in the base);
# apt brings their own dependencies (zlib1g, libnghttp2-14, ... for curl).
# Pin the base images by digest for reproducible builds.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make pkg-config libc6-dev \
      libmicrohttpd-dev libgnutls28-dev libcjson-dev libyaml-dev \
      libcurl4-openssl-dev libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# No .git in the build context (.dockerignore): the version comes from here.
ARG VERSION=dev
RUN make -j"$(nproc)" VERSION="$VERSION" \
 && install -D -m 0755 build/rel/podtuner /out/podtuner \
 && /out/podtuner version

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libcjson1 libyaml-0-2 libcurl4 libssl3 libgnutls30 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 podtuner \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin podtuner
COPY --from=build /out/podtuner /usr/local/bin/podtuner
# Numeric, so that the kubelet can verify runAsNonRoot. The agent's
# DaemonSet runs as root instead (manifests/base/agent.yaml says why).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/podtuner"]
CMD ["--help"]
