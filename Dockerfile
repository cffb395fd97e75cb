# The commands in one small image: /server, /client, /diagram and /web
# (which runs each of its runs as a child: itself, as the client), and the
# article's Rust programs in /tokio, which `client -runtime tokio` runs.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/server ./cmd/client ./cmd/diagram ./cmd/web
# /web's runs write their figures into a temporary directory: /tmp, owned
# by the user the commands run as.
RUN mkdir -m 1777 /out/tmp

# The article's programs (peers/tokio), as any Rust project builds: its
# crates from crates.io.
FROM rust:1-bookworm AS peer
WORKDIR /src
COPY peers/tokio ./
RUN cargo build --release --bins && mkdir /out \
	&& for b in server client_sync client_series client_single client_multi client_rayon client_many; do cp target/release/$b /out/; done

# The Rust programs need the C library; the Go ones need nothing.
FROM gcr.io/distroless/cc-debian12
COPY --from=build /out/server /out/client /out/diagram /out/web /
COPY --from=peer /out/ /tokio/
COPY --from=build --chown=65534:65534 /out/tmp /tmp
USER 65534:65534
EXPOSE 6142 8080
CMD ["/server", "-addr", "0.0.0.0:6142"]
