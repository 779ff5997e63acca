// The services' container healthcheck: exit 0 when http://127.0.0.1:<port>/healthz answers 2xx.
//   node /app/deploy/docker/healthcheck.mjs <port>
// A file rather than `node -e '…'`: podman's Docker API splits a healthcheck's arguments at spaces.
const port = process.argv[2];
const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) }).catch(
  () => undefined,
);
process.exit(res?.ok ? 0 : 1);
