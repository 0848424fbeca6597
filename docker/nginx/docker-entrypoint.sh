#!/bin/sh
# Writes the server configuration with the package's generator, as the deployment guide does
# (docs/deployment.md), then runs nginx. Values come from the environment (docker-compose.yml);
# the generator also reads NGINX_AUTH=ticket|secure-link and NGINX_PUSH_STREAM_SECRET itself (signed tickets),
# and NCHAN_REDIS_URL (several Nchan nodes sharing one Redis). AUTH_UPSTREAM, when set, is where
# the auth subrequests go (the app's auth listener, its AUTH_PORT); unset, the app answers them.
set -eu

: "${NGINX_PUSH_STREAM_SERVER:=push-stream}"
: "${NGINX_LISTEN:=9080}"
: "${NGINX_PUB_LISTEN:=9081}"
: "${APP_UPSTREAM:=app:3000}"
: "${PUSH_STREAM_PACKAGE:=/opt/nestjs-push-stream}"
: "${NGINX_CONF_D:=/etc/nginx/conf.d}"
: "${NGINX_MAIN_D:=/etc/nginx/main.d}"
# Who may publish besides loopback: by default the compose network this container is on (the
# app's network). The publisher listens on every address of the container, hence
# --public-publisher; its port is not published to the host.
if [ -z "${NGINX_PUB_ALLOW:-}" ]; then
  NGINX_PUB_ALLOW="$(ip -o -4 route show scope link | awk 'NR == 1 { print $1 }')"
fi
: "${NGINX_PUB_ALLOW:=127.0.0.1}"

CONF="$NGINX_CONF_D/push-stream.conf"
node "$PUSH_STREAM_PACKAGE/dist/cli/main.js" nginx-config --server "$NGINX_PUSH_STREAM_SERVER" \
  --listen "$NGINX_LISTEN" --public-publisher --pub-listen "$NGINX_PUB_LISTEN" --pub-allow "$NGINX_PUB_ALLOW" \
  --app "$APP_UPSTREAM" ${AUTH_UPSTREAM:+--auth-app "$AUTH_UPSTREAM"} > "$CONF"
# In ticket mode it holds the ticket key; with a Redis password, that password.
chmod 600 "$CONF"
# The main-context lines its header names: the modules to load and the worker count.
if grep -q '^# load_module <path>;' "$CONF"; then
  grep '^# load_module <path>;' "$CONF" >&2
  exit 1
fi
mkdir -p "$NGINX_MAIN_D"
sed -n -e 's/^#   \(load_module [^ ]*;\)$/\1/p' \
  -e 's/^# Workers, in the main context: \(worker_processes [^;]*;\).*$/\1/p' "$CONF" > "$NGINX_MAIN_D/push-stream.conf"
echo "wrote $CONF and $NGINX_MAIN_D/push-stream.conf ($NGINX_PUSH_STREAM_SERVER, listen $NGINX_LISTEN, publisher $NGINX_PUB_LISTEN allowing $NGINX_PUB_ALLOW, app $APP_UPSTREAM, auth ${AUTH_UPSTREAM:-$APP_UPSTREAM}${NCHAN_REDIS_URL:+, channels shared through NCHAN_REDIS_URL})"

exec "$@"
