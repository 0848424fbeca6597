#!/bin/sh
# Renders the server template with the placeholders the tests fill (see nginx/*.conf.template).
set -eu

: "${NGINX_LISTEN:=9080}"
: "${NGINX_PUB_LISTEN:=9081}"
: "${APP_UPSTREAM:=app:3000}"
# Who may publish besides loopback: by default the compose network this container is on
# (the app's network). Port 9081 is not published to the host.
if [ -z "${NGINX_PUB_ALLOW:-}" ]; then
  NGINX_PUB_ALLOW="$(ip -o -4 route show scope link | awk 'NR == 1 { print $1 }')"
fi
: "${NGINX_PUB_ALLOW:=127.0.0.1}"
export NGINX_LISTEN NGINX_PUB_LISTEN NGINX_PUB_ALLOW APP_UPSTREAM

for template in /etc/nginx/templates/*.conf.template; do
  out="/etc/nginx/conf.d/$(basename "$template" .template)"
  # Only these names: nginx's own $variables in the template stay as they are.
  envsubst '${NGINX_LISTEN} ${NGINX_PUB_LISTEN} ${NGINX_PUB_ALLOW} ${APP_UPSTREAM}' < "$template" > "$out"
  echo "rendered $out (listen $NGINX_LISTEN, publisher $NGINX_PUB_LISTEN allowing $NGINX_PUB_ALLOW, app $APP_UPSTREAM)"
done

exec "$@"
