#!/usr/bin/env bash
# Integration test of the real cluster-launcher path on this machine, loopback only:
#   1. installs openssh-server, rsync and netcat-openbsd (Debian packages) if missing;
#   2. creates a throw-away user (aa-integ), a throw-away SSH key pair and host key in a temp dir, and starts
#      sshd on 127.0.0.1:<free port> accepting only that user and key;
#   3. `ray up` of a generated copy of cluster/local.yaml (head_ip 127.0.0.1), then on the head:
#      `ray exec` of `activeamp dataset` (a small mock-labelled store), `ray submit` of cluster/run_active.py
#      (a tiny active-learning run, cluster/integration/run-tiny.yaml) and of tune/search.py (2 trials x 3
#      epochs, cluster/integration/search-tiny.yaml), checks their outputs with `ray exec`, `ray down`;
#   4. Ray Jobs: starts a Ray head as aa-integ on loopback ports (ray[default] from the virtualenv that step 3's
#      setup built), `ray job submit --working-dir <repo> -- python cluster/run_active.py ...`, checks the run
#      folder, `ray stop`.
# A trap stops everything the script started (the cluster, the Jobs head, the aa-integ processes, sshd) and
# removes the user (with its home: ~/.activeamp, ~/.ray, the venv), the keys and the temp dir. The Debian
# packages stay installed.
#
# Usage (as root, from anywhere; needs PyPI or a mirror for the head's setup, ~2.5 min of pip):
#   cluster/integration.sh            # env: ACTIVEAMP_INTEG_VENV (launcher-side venv with ray==2.60.0,
#                                     #      default <repo>/.venv), ACTIVEAMP_INTEG_USER (default aa-integ)
#
# Why the cluster config is a generated copy of cluster/local.yaml (in the temp dir), not the file itself:
#   * auth: the throw-away user and key; and the SSH port. The launcher has no ssh_port setting (neither in
#     `auth` nor in `provider`; see ray/autoscaler/ray-schema.json), so sshd listens on a free loopback port and
#     `auth.ssh_proxy_command: nc 127.0.0.1 <port>` reaches it (port 22 may be taken, and must not be opened).
#   * file_mounts: ~/activeamp-run.yaml is cluster/integration/run-tiny.yaml instead of cluster/run.yaml.
#   * cluster_name: activeamp-integ, so that its launcher state and SSH control sockets stay apart.
#   * (checked, not changed) setup installs with `--config-settings editable_mode=compat -e "$HOME/activeamp[cluster]"`
#     rather than a plain `-e`: `ray submit` copies the script to ~/<name>.py and runs it there, so the home directory is sys.path[0],
#     and ~/activeamp (the synced checkout, no __init__.py) shadows the package as an empty namespace package:
#     setuptools' default editable install is an import hook consulted only after sys.path, so `ray submit
#     cluster/run_active.py` died with "ImportError: cannot import name '__version__' from 'activeamp' (unknown
#     location)". The compat mode puts ~/activeamp on sys.path instead, where the regular package wins. (Same
#     setup line in cluster/cluster.yaml.) The script asserts that local.yaml has it.
# Everything else (setup, start commands, resources, ray.env) is local.yaml unchanged.
#
# Ray's `ray stop` (local.yaml's start commands, `ray down`) ends every Ray process its user may signal: it runs
# as aa-integ here, so Ray processes of other users are safe. aa-integ's Ray uses its own RAY_TMPDIR, and the
# launcher (root) its own TMPDIR, so /tmp/ray (session_latest, the local provider's state) is not touched.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LVENV=${ACTIVEAMP_INTEG_VENV:-$REPO/.venv}
U=${ACTIVEAMP_INTEG_USER:-aa-integ}
RAY_VERSION=2.60.0
T0=$SECONDS

log() { printf '\n=== [%4ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------- checks
[ "$(id -u)" = 0 ] || die "run as root (installs packages, creates a user, starts sshd)"
[ -x "$LVENV/bin/ray" ] || die "$LVENV/bin/ray not found (set ACTIVEAMP_INTEG_VENV)"
v=$("$LVENV/bin/python" -c 'import ray; print(ray.__version__)')
[ "$v" = "$RAY_VERSION" ] || die "launcher-side ray is $v, local.yaml pins $RAY_VERSION"
! getent passwd "$U" > /dev/null || die "user $U exists already (left by an interrupted run? remove it: userdel -r $U)"
for p in 6379 8265 8076 8077 10001; do  # the fixed ports of local.yaml's head
    ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || die "port $p is in use (a Ray head running?); local.yaml needs it"
done

# ---------------------------------------------------------------------------------------------------- cleanup
TMP=""; CFG=""; SSHD_PID=""; USER_CREATED=0; CLUSTER_UP=0; JOBS_HEAD=0; MADE_RUN_SSHD=0; MADE_POLICY=0
UHOME=""; CTL_DIR=""
as_user() {  # run a command as $U in a clean login-like environment with ~/.activeamp/ray.env sourced
    runuser -u "$U" -- env -i HOME="$UHOME" USER="$U" LOGNAME="$U" SHELL=/bin/bash LANG=C.UTF-8 \
        PATH=/usr/local/bin:/usr/bin:/bin RAY_TMPDIR="$TMP/r" RAY_USAGE_STATS_ENABLED=0 \
        bash -c ". ~/.activeamp/ray.env && $1"
}
launcher() { (cd "$REPO" && TMPDIR="$TMP/launcher" RAY_USAGE_STATS_ENABLED=0 "$LVENV/bin/ray" "$@"); }
cleanup() {
    local rc=$? pids
    set +e
    trap - EXIT INT TERM
    log "cleanup (exit status so far: $rc)"
    if [ "$CLUSTER_UP" = 1 ]; then launcher down -y "$CFG" > "$TMP/down.log" 2>&1 || tail -5 "$TMP/down.log"; fi
    if [ "$JOBS_HEAD" = 1 ]; then as_user "ray stop" > /dev/null 2>&1; fi
    if [ "$USER_CREATED" = 1 ]; then
        # whatever aa-integ still runs (Ray leftovers): only that user's processes, by id
        pids=$(pgrep -u "$U" || true)
        if [ -n "$pids" ]; then echo "stopping leftover $U processes:"; ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)" | cut -c1-150; kill $pids 2> /dev/null; sleep 3; fi
        pids=$(pgrep -u "$U" || true)
        if [ -n "$pids" ]; then kill -9 $pids 2> /dev/null; sleep 1; fi
    fi
    if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2> /dev/null; wait "$SSHD_PID" 2> /dev/null; fi
    if [ "$USER_CREATED" = 1 ]; then userdel -r "$U" 2> /dev/null || userdel -rf "$U"; fi
    [ -n "$CTL_DIR" ] && rm -rf "$CTL_DIR"
    [ "$MADE_RUN_SSHD" = 1 ] && rmdir /run/sshd 2> /dev/null
    [ "$MADE_POLICY" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ -n "$TMP" ] && rm -rf "$TMP"
    if [ "$rc" = 0 ]; then log "PASS (wall time $((SECONDS - T0)) s)"; else log "FAILED with status $rc after $((SECONDS - T0)) s"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------- packages
log "system packages: openssh-server rsync netcat-openbsd"
if ! { [ -x /usr/sbin/sshd ] && command -v rsync > /dev/null && command -v nc > /dev/null; }; then
    if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep the package from starting sshd on 0.0.0.0:22
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && MADE_POLICY=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server rsync netcat-openbsd > /dev/null
    [ "$MADE_POLICY" = 1 ] && rm -f /usr/sbin/policy-rc.d && MADE_POLICY=0
else
    echo "already installed"
fi

# ---------------------------------------------------------------------------------------------------- user, keys, sshd
TMP=$(mktemp -d /tmp/aai.XXXXXX)   # short: Ray's unix sockets live under $TMP/r
chmod 711 "$TMP"
mkdir -p "$TMP/launcher"
log "throw-away user $U, keys and sshd (temp dir $TMP)"
useradd -m -s /bin/bash -p '*' "$U"   # '*': no password, but not locked (sshd refuses locked accounts)
USER_CREATED=1
UHOME=$(getent passwd "$U" | cut -d: -f6)
install -d -o "$U" -g "$U" -m 700 "$TMP/r"
ssh-keygen -q -t ed25519 -N '' -C "activeamp-integ-client" -f "$TMP/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C "activeamp-integ-host" -f "$TMP/host_ed25519"
install -d -o "$U" -g "$U" -m 700 "$UHOME/.ssh"
install -o "$U" -g "$U" -m 600 "$TMP/id_ed25519.pub" "$UHOME/.ssh/authorized_keys"
# Ray's temp dir for aa-integ (before ~/.bashrc's interactive guard: the launcher runs `bash --login -c -i`).
sed -i "1i export RAY_TMPDIR='$TMP/r'" "$UHOME/.bashrc"
# pip: the same indexes / find-links / constraints as the invoking user (mirrors, caches of this machine).
install -d -o "$U" -g "$U" "$UHOME/.config" "$UHOME/.config/pip"
"$LVENV/bin/python" -m pip config list 2> /dev/null | "$LVENV/bin/python" -c '
import sys
options = {}
for line in sys.stdin:
    key, _, value = line.strip().partition("=")
    if key and value:
        options[key.rsplit(".", 1)[-1]] = value.strip(chr(39) + chr(34))
print("\n".join(["[global]"] + [f"{k} = {v}" for k, v in options.items()]))' > "$UHOME/.config/pip/pip.conf"
chown "$U:$U" "$UHOME/.config/pip/pip.conf"
sed 's/^/  pip.conf: /' "$UHOME/.config/pip/pip.conf"

PORT=$("$LVENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$TMP/sshd_config" << EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_ed25519
PidFile $TMP/sshd.pid
AllowUsers $U
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp internal-sftp
EOF
if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd && MADE_RUN_SSHD=1; fi
/usr/sbin/sshd -t -f "$TMP/sshd_config"
/usr/sbin/sshd -D -e -f "$TMP/sshd_config" 2> "$TMP/sshd.log" &
SSHD_PID=$!
for _ in $(seq 50); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break; sleep 0.1; done
ssh -i "$TMP/id_ed25519" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o "ProxyCommand=nc 127.0.0.1 $PORT" "$U@127.0.0.1" 'echo "ssh ok: $(id -un)@$(hostname) via $SSH_CONNECTION"'
echo "sshd pid $SSHD_PID on 127.0.0.1:$PORT: $(ss -ltnp 2> /dev/null | grep ":$PORT " | awk '{print $4}' | tr '\n' ' ')"

# ---------------------------------------------------------------------------------------------------- cluster config
CFG="$TMP/local-integ.yaml"
"$LVENV/bin/python" - "$REPO/cluster/local.yaml" "$CFG" "$U" "$TMP/id_ed25519" "$PORT" << 'EOF'
import sys, yaml
src, dst, user, key, port = sys.argv[1:]
cfg = yaml.safe_load(open(src))
assert cfg["provider"]["type"] == "local" and cfg["provider"]["head_ip"] == "127.0.0.1", cfg["provider"]
assert cfg["provider"]["worker_ips"] == [], cfg["provider"]
cfg["cluster_name"] = "activeamp-integ"
cfg["auth"] = {"ssh_user": user, "ssh_private_key": key, "ssh_proxy_command": f"nc 127.0.0.1 {port}"}
cfg["file_mounts"]["~/activeamp-run.yaml"] = "cluster/integration/run-tiny.yaml"
# local.yaml must install the project in compat editable mode (see the header), or `ray submit` breaks.
editable = '--config-settings editable_mode=compat -e "$HOME/activeamp[cluster]"'
assert sum(editable in c for c in cfg["setup_commands"]) == 1, cfg["setup_commands"]
yaml.safe_dump(cfg, open(dst, "w"), sort_keys=False, width=1000)
EOF
"$LVENV/bin/python" -c '
import sys, yaml
from ray.autoscaler._private.util import prepare_config, validate_config
validate_config(prepare_config(yaml.safe_load(open(sys.argv[1]))))' "$CFG"
diff <("$LVENV/bin/python" -c 'import sys, yaml; print(yaml.safe_dump(yaml.safe_load(open(sys.argv[1])), sort_keys=False, width=1000))' "$REPO/cluster/local.yaml") \
    "$CFG" | sed 's/^/  /' || true
CTL_DIR=$("$LVENV/bin/python" -c '
import getpass, hashlib
h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:10]
print("/tmp/ray_ssh_" + h(getpass.getuser()) + "/" + h("activeamp-integ"))')

# ---------------------------------------------------------------------------------------------------- ray up / submit / down
log "ray up (setup: venv, torch, ray[default,tune,train]==$RAY_VERSION, activeamp[cluster]; then ray start)"
CLUSTER_UP=1
t=$SECONDS
launcher up -y --no-config-cache "$CFG" > "$TMP/up.log" 2>&1 || { tail -40 "$TMP/up.log"; die "ray up failed"; }
grep -E "Ray runtime started|Useful commands|ray status|Local node IP" "$TMP/up.log" | head -5 || true
echo "ray up: $((SECONDS - t)) s"
launcher exec "$CFG" "ray status" 2>&1 | grep -E "oracle|trainer|CPU|Active|node_" | head -8 || true

log "ray exec: activeamp dataset (mock oracle: 600 train, 150 validation, 100 test points)"
t=$SECONDS
launcher exec "$CFG" "activeamp dataset --out ~/integ/dataset --no-progress --set oracle.name=mock \
    --set n_train=600 --set n_validation=150 --set n_test=100 --set seed=11" 2>&1 | tee "$TMP/dataset.log" | tail -3 || true
grep -q "data set folder" "$TMP/dataset.log" || die "activeamp dataset on the head failed"
echo "dataset: $((SECONDS - t)) s"

log "ray submit cluster/run_active.py (tiny active-learning run: 300 initial points, 1 round of 50)"
t=$SECONDS
launcher submit "$CFG" cluster/run_active.py -- --config '~/activeamp-run.yaml' --out '~/integ/run' --no-progress \
    2>&1 | tee "$TMP/run.log" | grep -E "^round|run folder|error" || true
echo "run: $((SECONDS - t)) s"
launcher exec "$CFG" "cat ~/integ/run/summary.txt && test -s ~/integ/run/model.pt && echo FOUND model.pt" > "$TMP/run-check.log" 2>&1 || true
grep -E "^ +[01] +[0-9]+ " "$TMP/run-check.log" | sed 's/^/  summary.txt: /' || true
grep -q "activeamp run in" "$TMP/run-check.log" && grep -Eq "^ +1 +[0-9]+ " "$TMP/run-check.log" \
    && grep -q "^FOUND model.pt" "$TMP/run-check.log" || { cat "$TMP/run.log" "$TMP/run-check.log"; die "active run on the cluster: no round 1 / model.pt"; }

log "ray submit tune/search.py (2 trials x 3 epochs)"
t=$SECONDS
launcher submit "$CFG" tune/search.py -- --config '~/activeamp/cluster/integration/search-tiny.yaml' \
    --set 'store=~/integ/dataset/store' --set 'storage_path=~/integ/tune' 2>&1 | tee "$TMP/tune.log" \
    | grep -E "^ *\*? +[0-9a-f]{5}_[0-9]{5} |best trial|trial table" || true
echo "tune: $((SECONDS - t)) s"
launcher exec "$CFG" "cat ~/integ/tune/tiny/trials.csv; for f in best_run.yaml best_model.pt trials.txt; do test -s ~/integ/tune/tiny/\$f && echo FOUND \$f; done" > "$TMP/tune-check.log" 2>&1 || true
n=$(grep -c ",complete," "$TMP/tune-check.log" || true)
echo "  trials.csv: $n complete trials"
[ "$n" = 2 ] && grep -q "^FOUND best_run.yaml" "$TMP/tune-check.log" && grep -q "^FOUND best_model.pt" "$TMP/tune-check.log" \
    || { cat "$TMP/tune.log" "$TMP/tune-check.log"; die "Tune search on the cluster: expected 2 complete trials, best_run.yaml, best_model.pt"; }

log "ray down"
t=$SECONDS
launcher down -y "$CFG" > "$TMP/down.log" 2>&1 || { tail -20 "$TMP/down.log"; die "ray down failed"; }
CLUSTER_UP=0
echo "ray down: $((SECONDS - t)) s"
left=$(pgrep -u "$U" -a | grep -E "raylet|gcs_server" || true)
[ -z "$left" ] || die "Ray processes of $U left after ray down: $left"

# ---------------------------------------------------------------------------------------------------- Ray Jobs
log "Ray Jobs: head as $U on loopback, ray job submit --working-dir <repo>"
free_port() { "$LVENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GCS_PORT=$(free_port); DASH_PORT=$(free_port); CLIENT_PORT=$(free_port)
WORKDIR=$REPO
if ! runuser -u "$U" -- test -r "$REPO/cluster/run_active.py"; then  # repo not readable by aa-integ: use the synced tree
    WORKDIR=$UHOME/activeamp
fi
t=$SECONDS
JOBS_HEAD=1
as_user "export RAY_AUTH_MODE=disabled RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 && ray start --head --num-cpus=2 \
    --port=$GCS_PORT --dashboard-host=127.0.0.1 --dashboard-port=$DASH_PORT --ray-client-server-port=$CLIENT_PORT \
    --resources='{\"oracle\": 1, \"trainer\": 1}' --disable-usage-stats" > "$TMP/jobs-head.log" 2>&1 \
    || { cat "$TMP/jobs-head.log"; die "ray start --head failed"; }
echo "head up in $((SECONDS - t)) s (GCS 127.0.0.1:$GCS_PORT, dashboard 127.0.0.1:$DASH_PORT)"
t=$SECONDS
as_user "export RAY_AUTH_MODE=disabled RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 && \
    ray job submit --address http://127.0.0.1:$DASH_PORT --working-dir '$WORKDIR' -- \
    python cluster/run_active.py --config cluster/integration/run-tiny.yaml --out ~/integ/job-run --no-progress" \
    > "$TMP/job.log" 2>&1 || { tail -40 "$TMP/job.log"; die "ray job submit failed"; }
grep -E "Uploading|submitted successfully|^round|run folder|succeeded|SUCCEEDED" "$TMP/job.log" | sed 's/^/  /' || true
echo "job: $((SECONDS - t)) s"
runuser -u "$U" -- cat "$UHOME/integ/job-run/summary.txt" | sed 's/^/  summary.txt: /' || true
grep -Eq "succeeded|SUCCEEDED" "$TMP/job.log" && runuser -u "$U" -- test -s "$UHOME/integ/job-run/model.pt" \
    && runuser -u "$U" -- grep -Eq "^ +1 +[0-9]+ " "$UHOME/integ/job-run/summary.txt" \
    || die "Ray job: no success / round 1 / model.pt"
t=$SECONDS
as_user "ray stop" > /dev/null 2>&1 || die "ray stop failed"
JOBS_HEAD=0
echo "ray stop: $((SECONDS - t)) s"

log "all checks passed"
