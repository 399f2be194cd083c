# What the benchmark scripts share: the services' env file, finding tools,
# a free port, waiting for a server, and `windlass-netem` in front of it.
# Sourced by the scripts of this directory, never run.
# shellcheck shell=bash

# The env file of `scripts/services.sh`.
services_env=${WINDLASS_SERVICES_ENV:-${WINDLASS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/windlass-dev}/run/services.env}

# Reads one variable of the services env file (empty when absent).
service_var() {
  [[ -f $services_env ]] || return 0
  sed -n "s/^$1=//p" "$services_env" | tail -n 1
}

# Exits with status 2 naming the first of the tools that is not found.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || {
      echo "error: $tool not found" >&2
      exit 2
    }
  done
}

# Prints a free TCP port on 127.0.0.1 (asked of the Python $1, default
# python3).
free_port() {
  "${1:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for a server to accept connections on 127.0.0.1:$1;
# exits with status 1, showing its log $2, when none does.
wait_for_port() {
  local port=$1 log=$2
  for _ in $(seq 100); do
    if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: nothing listens on 127.0.0.1:$port after 10 s; $log says:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

# The windlass-netem process started by start_netem (empty when none).
netem_pid=
# The background processes stop_on_exit stops.
bench_pids=()

# Stops the background process $1, and windlass-netem, when the script
# exits.
stop_on_exit() {
  bench_pids+=("$1")
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local pid
  for pid in "${bench_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  stop_netem
}

# Starts the windlass-netem binary $1 in front of the server at $2
# (HOST:PORT), delaying $3 each way at the rate $4, with its port file and
# log in the directory $5. Sets netem_pid and netem_port (the port it
# listens on at 127.0.0.1); exits with status 1 when it does not start.
start_netem() {
  local bin=$1 upstream=$2 delay=$3 rate=$4 dir=$5
  "$bin" --listen 127.0.0.1:0 --upstream "$upstream" --delay "$delay" --rate "$rate" \
    >"$dir/netem.port" 2>"$dir/netem.log" &
  netem_pid=$!
  for _ in $(seq 100); do
    [[ -s $dir/netem.port ]] && break
    sleep 0.05
  done
  [[ -s $dir/netem.port ]] || {
    echo "error: windlass-netem did not start: $(cat "$dir/netem.log")" >&2
    exit 1
  }
  # shellcheck disable=SC2034 # read by the scripts that source this file
  netem_port=$(head -n 1 "$dir/netem.port")
}

# Stops windlass-netem, if running, and waits for it (it logs what went
# through it when it exits).
stop_netem() {
  if [[ -n $netem_pid ]] && kill -TERM "$netem_pid" 2>/dev/null; then
    wait "$netem_pid" 2>/dev/null || true
  fi
  netem_pid=
}
