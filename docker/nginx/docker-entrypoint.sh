#!/bin/sh
# Writes the server configuration with the package's generator, as the deployment guide does
# (docs/deployment.md), then runs nginx. Values come from the environment (docker-compose.yml);
# the generator also reads NGINX_AUTH=ticket and NGINX_PUSH_STREAM_SECRET itself (signed tickets).
set -eu

: "${NGINX_LISTEN:=9080}"
: "${NGINX_PUB_LISTEN:=9081}"
: "${APP_UPSTREAM:=app:3000}"
: "${PUSH_STREAM_PACKAGE:=/opt/nestjs-push-stream}"
: "${NGINX_CONF_D:=/etc/nginx/conf.d}"
# Who may publish besides loopback: by default the compose network this container is on (the
# app's network). The publisher listens on every address of the container, hence
# --public-publisher; its port is not published to the host.
if [ -z "${NGINX_PUB_ALLOW:-}" ]; then
  NGINX_PUB_ALLOW="$(ip -o -4 route show scope link | awk 'NR == 1 { print $1 }')"
fi
: "${NGINX_PUB_ALLOW:=127.0.0.1}"

node "$PUSH_STREAM_PACKAGE/dist/cli/main.js" nginx-config --server push-stream \
  --listen "$NGINX_LISTEN" --public-publisher --pub-listen "$NGINX_PUB_LISTEN" --pub-allow "$NGINX_PUB_ALLOW" \
  --app "$APP_UPSTREAM" > "$NGINX_CONF_D/push-stream.conf"
# In ticket mode it holds the ticket key.
chmod 600 "$NGINX_CONF_D/push-stream.conf"
echo "wrote $NGINX_CONF_D/push-stream.conf (listen $NGINX_LISTEN, publisher $NGINX_PUB_LISTEN allowing $NGINX_PUB_ALLOW, app $APP_UPSTREAM)"

exec "$@"
