# The commands in one small static image: /server, /client, /diagram and
# /web (which runs each of its runs as a child: itself, as the client).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/server ./cmd/client ./cmd/diagram ./cmd/web
# /web's runs write their figures into a temporary directory: /tmp,
# which the image (FROM scratch) has not, owned by the user the commands
# run as.
RUN mkdir -m 1777 /out/tmp

FROM scratch
COPY --from=build /out/server /out/client /out/diagram /out/web /
COPY --from=build --chown=65534:65534 /out/tmp /tmp
USER 65534:65534
EXPOSE 6142 8080
CMD ["/server", "-addr", "0.0.0.0:6142"]
