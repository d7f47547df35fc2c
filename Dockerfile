# syntax=docker/dockerfile:1
# Build: docker build -t almanac .   Run: docker run -p 8080:8080 almanac
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin almanac && strip target/release/almanac

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/almanac --create-home almanac
COPY --from=build /src/target/release/almanac /usr/local/bin/almanac
USER 10001
WORKDIR /var/lib/almanac
ENV ALMANAC__HTTP__LISTEN=0.0.0.0:8080 \
    ALMANAC__STORE__DATA_DIR=/var/lib/almanac/data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["almanac"]
CMD ["serve"]
