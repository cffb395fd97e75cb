# The commands in one small static image: /server, /client and /diagram.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/server ./cmd/client ./cmd/diagram

FROM scratch
COPY --from=build /out/server /out/client /out/diagram /
USER 65534:65534
EXPOSE 6142
CMD ["/server", "-addr", "0.0.0.0:6142"]
