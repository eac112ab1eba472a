# Build stage: compile a static binary. The time zone database is embedded
# in the binary (time/tzdata), so the runtime image needs nothing else.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nudge ./cmd/nudge

# Runtime stage: the binary, CA certificates for SMTP/Twilio TLS, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/nudge /nudge
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/nudge"]
CMD ["run"]
