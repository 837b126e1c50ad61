#!/usr/bin/env bash
# Make sure the services the test suite uses are up (PostgreSQL, Redis, RabbitMQ).
# Starts any that is down with the machine's documented commands; never fails silently.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done; return 1; }

if ! up 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_port 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
fi
if ! up 6379; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_port 6379 || { echo "Redis did not start" >&2; exit 1; }
fi
if ! up 5672; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_port 5672 || { echo "RabbitMQ did not start" >&2; exit 1; }
fi
exit 0
