#!/usr/bin/env bash
# Checks that a collect split into shards on a Slurm cluster and merged gives the same dataset as
# one ordinary collect. It starts a one-node Slurm cluster on localhost (munged, slurmctld and
# slurmd, with their keys, configuration, state and logs in a private temporary directory),
# makes a folder of captures from tests/data (three camera folders, exact duplicates under
# other names, a text file named .jpg), collects it once as the reference, then submits a
# 4-task array job (`edgeset collect --shard K/4`, one part dataset per task) and a job that
# depends on it (`edgeset merge`), and compares manifest.jsonl, quarantine.jsonl and
# signatures.bin byte for byte and objects/ file by file. Everything it started is stopped and
# the temporary directory removed on exit.
#
# Not part of .ci/run: it needs root, starts daemons and needs `bash scripts/setup.sh scale`.
# It is made for a machine without systemd (a container); a running Slurm or munge is left alone.
#
#   usage: scripts/slurm-check.sh [BIN_DIR]   (default build/bin, relative to the repository root)
# Environment: SLURM_CHECK_KEEP=1 keeps the temporary directory (logs, datasets) and says where;
# SLURM_CHECK_TIMEOUT (seconds, default 300) bounds the wait for the jobs.
# Exit status: 0 the datasets are the same; 1 they differ, or a shard or the merge exited
# non-zero; 2 the check could not be made (not root, packages or programs missing, the cluster
# did not start or run the jobs, the reference collect failed), with the reason.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD
bin=${1:-build/bin}
case "$bin" in /*) ;; *) bin=$top/$bin ;; esac
shards=4
job_timeout=${SLURM_CHECK_TIMEOUT:-300}
export TZ=UTC SOURCE_DATE_EPOCH=1767225600 LC_ALL=C   # 2026-01-01T00:00:00Z

tmp="" munged_pid="" slurmctld_pid="" slurmd_pid="" node="" jobs=() finished="" signal=""
job_id="" job_states="" status=""   # what submit, wait_job and job_status found

say() { echo "slurm-check: $*"; }

# The last lines of file $1, indented, on standard error.
show_tail() {
  [ -s "$1" ] || return 0
  { echo "slurm-check: the end of ${1#"$tmp"/}:"; tail -n 15 "$1" | sed 's/^/  /'; } >&2
}

# Exit 2 with the reason (and the tail of the log files named after it).
setup_fail() {
  local reason=$1 log
  shift
  for log in "$@"; do show_tail "$log"; done
  echo "slurm-check: setup failure: $reason" >&2
  finished=1
  exit 2
}

# Stops the child $1: SIGTERM, up to $2 seconds for it to exit (a zombie has), SIGKILL, reaped.
# shellcheck disable=SC2317  # reached from the EXIT trap
stop_pid() {
  local pid=$1 wait_s=$2 i state
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait_s * 10; i++)); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
    [ "$state" = Z ] && break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # reached from the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$signal" ]; then
    echo "slurm-check: setup failure: stopped by SIG$signal, nothing compared" >&2
    rc=2
  elif [ -z "$finished" ] && [ "$rc" -ne 0 ]; then
    echo "slurm-check: setup failure: a command failed (exit $rc)" >&2
    rc=2
  fi
  if [ ${#jobs[@]} -gt 0 ] && [ -n "$slurmctld_pid" ]; then
    scancel "${jobs[@]}" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      [ -z "$(squeue -h -j "$(IFS=,; echo "${jobs[*]}")" 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  stop_pid "$slurmd_pid" 10
  stop_pid "$slurmctld_pid" 10
  stop_pid "$munged_pid" 5
  if [ -n "$tmp" ]; then
    if [ "${SLURM_CHECK_KEEP:-}" = 1 ]; then
      say "kept $tmp"
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$rc"
}

check_prerequisites() {
  local c
  [ "$(id -u)" -eq 0 ] || setup_fail "run as root (it starts munged, slurmctld and slurmd)"
  for c in munged mungekey slurmctld slurmd sbatch scontrol squeue sinfo scancel; do
    command -v "$c" >/dev/null || setup_fail "$c not found: bash scripts/setup.sh scale"
  done
  for c in edgeset edgeset-collect edgeset-merge; do
    [ -x "$bin/$c" ] || setup_fail "$bin/$c not found (build it first)"
  done
  "$bin/edgeset-collect" --help 2>&1 | grep -q -- --shard ||
    setup_fail "$bin/edgeset-collect --help does not mention --shard"
}

# munged refuses a socket in a folder that not everyone may enter, hence 711 on the way to it.
start_munged() {
  mkdir -m 700 "$tmp/munge" "$tmp/log"
  mkdir -m 711 "$tmp/run"
  if ! mungekey -c -k "$tmp/munge/munge.key" 2>"$tmp/log/mungekey.log"; then
    dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1 count=1024 2>/dev/null
    chmod 600 "$tmp/munge/munge.key"
  fi
  munged -F --key-file="$tmp/munge/munge.key" --socket="$tmp/run/munge.socket" \
    --pid-file="$tmp/run/munged.pid" --seed-file="$tmp/munge/munged.seed" \
    </dev/null >"$tmp/log/munged.log" 2>&1 &
  munged_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [ -S "$tmp/run/munge.socket" ] && break
    kill -0 "$munged_pid" 2>/dev/null || setup_fail "munged exited" "$tmp/log/munged.log"
    sleep 0.1
  done
  munge -S "$tmp/run/munge.socket" -n </dev/null | unmunge -S "$tmp/run/munge.socket" >/dev/null ||
    setup_fail "munged does not answer on $tmp/run/munge.socket" "$tmp/log/munged.log"
  say "munged started (pid $munged_pid)"
}

# One node: this machine as `slurmd -C` describes it (its CPUs and memory), reached on 127.0.0.1.
write_slurm_conf() {
  local node_line
  node_line=$(slurmd -C | grep '^NodeName=') || setup_fail "slurmd -C describes no node"
  node=${node_line%% *}
  node=${node#NodeName=}
  mkdir -m 700 "$tmp/state" "$tmp/spool" "$tmp/jobs"
  cat >"$tmp/slurm.conf" <<EOF
ClusterName=edgeset-check
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/run/munge.socket
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=kill_invalid_depend
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
MailProg=/bin/true
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=check Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$tmp/slurm.conf
}

start_slurm() {
  local i state t0=$SECONDS
  slurmctld -D -f "$SLURM_CONF" </dev/null >"$tmp/log/slurmctld.out" 2>&1 &
  slurmctld_pid=$!
  for ((i = 0; ; i++)); do
    scontrol ping 2>/dev/null | grep -q 'is UP' && break
    kill -0 "$slurmctld_pid" 2>/dev/null ||
      setup_fail "slurmctld exited" "$tmp/log/slurmctld.out" "$tmp/log/slurmctld.log"
    [ "$i" -lt 300 ] ||
      setup_fail "slurmctld not up after 30 s" "$tmp/log/slurmctld.out" "$tmp/log/slurmctld.log"
    sleep 0.1
  done
  slurmd -D -f "$SLURM_CONF" </dev/null >"$tmp/log/slurmd.out" 2>&1 &
  slurmd_pid=$!
  for ((i = 0; ; i++)); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    kill -0 "$slurmd_pid" 2>/dev/null ||
      setup_fail "slurmd exited" "$tmp/log/slurmd.out" "$tmp/log/slurmd.log"
    [ "$i" -lt 600 ] || setup_fail "node $node is '$state', not idle, after 60 s: $(
      scontrol show node "$node" 2>/dev/null | grep -o 'Reason=.*' || true)" \
      "$tmp/log/slurmd.log" "$tmp/log/slurmctld.log"
    sleep 0.1
  done
  say "slurmctld (pid $slurmctld_pid) and slurmd (pid $slurmd_pid) started; node $node idle" \
    "after $((SECONDS - t0)) s"
}

# captures/cam-*/: the repository's photos and test images, four exact duplicates under other
# names (two in another camera's folder), and a text file named .jpg (quarantined).
make_inputs() {
  local c=$tmp/work/captures d=tests/data/images
  mkdir -p "$c/cam-north" "$c/cam-gate" "$c/cam-trail"
  cp tests/data/photos/* "$c/cam-north/"
  cp "$d"/exif-orientation/*.jpg "$d"/jpeg-variants/* "$c/cam-gate/"
  cp "$d"/pngsuite/*.png "$c/cam-trail/"
  cp "$c/cam-north/china.jpg" "$c/cam-gate/IMG_0042.jpg"
  cp "$c/cam-north/brick.png" "$c/cam-trail/brick-copy.png"
  cp "$c/cam-gate/f1-exif.jpg" "$c/cam-north/DSC_0001.jpg"
  cp "$c/cam-trail/basn2c08.png" "$c/cam-trail/basn2c08-again.png"
  echo "battery low, lens cleaned on 2026-01-01" >"$c/cam-gate/notes.jpg"
  find "$c" -type f -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  say "inputs: $(find "$c" -type f | wc -l) files in 3 camera folders (4 exact duplicates," \
    "1 text file named .jpg)"
}

reference_collect() {
  local t0=$SECONDS
  (cd "$tmp/work" && "$bin/edgeset" collect -d ref --batch b1 --device-from dir:1 -q captures) \
    2>"$tmp/log/reference.err" || setup_fail "the reference collect failed" "$tmp/log/reference.err"
  say "reference collect: $(wc -l <"$tmp/work/ref/manifest.jsonl") manifest lines," \
    "$(find "$tmp/work/ref/objects" -type f | wc -l) objects," \
    "$(wc -l 2>/dev/null <"$tmp/work/ref/quarantine.jsonl" || echo 0) quarantine lines" \
    "in $((SECONDS - t0)) s"
}

# Each job writes its exit status to jobs/NAME.status: with no accounting (slurmdbd) that is
# the way to learn it once the job has left the controller.
write_job_scripts() {
  export SLURM_CHECK_BIN=$bin SLURM_CHECK_JOBS=$tmp/jobs SLURM_CHECK_SHARDS=$shards
  mkdir "$tmp/work/parts"   # collect creates its dataset folder, not the folders above it
  cat >"$tmp/jobs/collect.sh" <<'EOF'
#!/usr/bin/env bash
k=$((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN))
rc=0
"$SLURM_CHECK_BIN/edgeset" collect -d "parts/part$k" --shard "$k/$SLURM_CHECK_SHARDS" \
  --batch b1 --device-from dir:1 -q captures || rc=$?
echo "$rc" >"$SLURM_CHECK_JOBS/collect-$k.status"
exit "$rc"
EOF
  cat >"$tmp/jobs/merge.sh" <<'EOF'
#!/usr/bin/env bash
rc=0
"$SLURM_CHECK_BIN/edgeset" merge -d merged parts/part* || rc=$?
echo "$rc" >"$SLURM_CHECK_JOBS/merge.status"
exit "$rc"
EOF
}

# Sets job_id to the id sbatch gave (--parsable: "ID" or "ID;CLUSTER").
submit() {
  local out
  out=$(sbatch --parsable --chdir="$tmp/work" --export=ALL "$@" 2>"$tmp/log/sbatch.err") ||
    setup_fail "sbatch $* failed" "$tmp/log/sbatch.err"
  job_id=${out%%;*}
  jobs+=("$job_id")
}

# Waits until no record of job $1 (every task of an array) is in a state that is not final;
# sets job_states to the final states.
wait_job() {
  local id=$1 what=$2 t0=$SECONDS states
  while :; do
    states=$(scontrol show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort -u) ||
      setup_fail "scontrol show job $id: the controller lost the $what job" "$tmp/log/slurmctld.log"
    grep -qE '=(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|STAGE_OUT|SIGNALING)$' \
      <<<"$states" || break
    [ $((SECONDS - t0)) -lt "$job_timeout" ] || setup_fail "the $what job $id is not done after" \
      "$job_timeout s: ${states//$'\n'/ }" "$tmp/log/slurmd.log" "$tmp/log/slurmctld.log"
    sleep 0.5
  done
  job_states=${states//$'\n'/ }
  job_states=${job_states//JobState=/}
}

# Sets status to what job part $1 (collect-K or merge) wrote in its status file; a setup
# failure when the job never got to write it.
job_status() {
  local f=$tmp/jobs/$1.status
  [ -s "$f" ] || setup_fail "job $1 left no exit status (killed or never run): $(
    scontrol show job "${jobs[0]}" 2>/dev/null | grep -o 'Reason=[^ ]*' | sort -u | tr '\n' ' ')" \
    "$tmp/jobs/$1.out" "$tmp/log/slurmd.log"
  status=$(<"$f")
}

run_jobs() {
  local array_id merge_id k statuses="" lines="" failed=0 t0=$SECONDS
  write_job_scripts
  submit --array=0-$((shards - 1)) --job-name=edgeset-collect \
    --output="$tmp/jobs/collect-%a.out" "$tmp/jobs/collect.sh"
  array_id=$job_id
  submit --dependency=afterok:"$array_id" --job-name=edgeset-merge \
    --output="$tmp/jobs/merge.out" "$tmp/jobs/merge.sh"
  merge_id=$job_id
  say "submitted array job $array_id ($shards shards) and merge job $merge_id (afterok:$array_id)"
  wait_job "$array_id" collect
  for ((k = 0; k < shards; k++)); do
    job_status "collect-$k"
    statuses+=" $status"
    if [ "$status" != 0 ]; then
      failed=1
      say "shard $k exited $status" >&2
      show_tail "$tmp/jobs/collect-$k.out"
    fi
    lines+=" $(wc -l 2>/dev/null <"$tmp/work/parts/part$k/manifest.jsonl" || echo -)"
  done
  say "array job $array_id done after $((SECONDS - t0)) s ($job_states): shard exit" \
    "statuses$statuses, part manifest lines$lines"
  if [ "$failed" -ne 0 ]; then
    say "FAIL: a shard's collect exited non-zero (the merge job is cancelled)"
    finished=1
    exit 1
  fi
  wait_job "$merge_id" merge
  job_status merge
  say "merge job $merge_id done after $((SECONDS - t0)) s ($job_states): exit status $status"
  if [ "$status" != 0 ]; then
    show_tail "$tmp/jobs/merge.out"
    say "FAIL: the merge exited $status"
    finished=1
    exit 1
  fi
}

# The objects under DIR/objects, one relative path a line, sorted.
list_objects() {
  (cd "$1/objects" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
}

compare() {
  local ref=$tmp/work/ref merged=$tmp/work/merged problems=() f n_ref differing=0 line
  if [ ! -f "$merged/manifest.jsonl" ]; then
    problems+=("merged/manifest.jsonl is missing")
  elif ! cmp -s "$ref/manifest.jsonl" "$merged/manifest.jsonl"; then
    line=$(cmp "$ref/manifest.jsonl" "$merged/manifest.jsonl" 2>&1 | grep -o 'line [0-9]*' || true)
    problems+=("manifest.jsonl differs (${line:-at the end}, reference $(wc -l \
      <"$ref/manifest.jsonl") lines, merged $(wc -l <"$merged/manifest.jsonl") lines)")
    { diff "$ref/manifest.jsonl" "$merged/manifest.jsonl" | head -n 6 | cut -c 1-300; } >&2 || true
  fi
  for f in quarantine.jsonl signatures.bin; do
    cmp -s "$ref/$f" "$merged/$f" || problems+=("$f differs")
  done
  list_objects "$ref" >"$tmp/objects.ref"
  list_objects "$merged" >"$tmp/objects.merged"
  n_ref=$(wc -l <"$tmp/objects.ref")
  if ! cmp -s "$tmp/objects.ref" "$tmp/objects.merged"; then
    problems+=("object names differ ($(comm -23 "$tmp/objects.ref" "$tmp/objects.merged" |
      wc -l) only in the reference, $(comm -13 "$tmp/objects.ref" "$tmp/objects.merged" |
      wc -l) only in the merged dataset)")
    { comm -3 "$tmp/objects.ref" "$tmp/objects.merged" | head -n 6 |
      sed 's/^\t/  only in merged: /; t; s/^/  only in the reference: /'; } >&2
  fi
  while IFS= read -r f; do
    cmp -s "$ref/objects/$f" "$merged/objects/$f" ||
      { differing=$((differing + 1)); say "objects/$f differs" >&2; }
  done < <(comm -12 "$tmp/objects.ref" "$tmp/objects.merged")
  [ "$differing" -eq 0 ] || problems+=("objects with different bytes: $differing")
  finished=1
  if [ ${#problems[@]} -eq 0 ]; then
    say "PASS: manifest.jsonl identical ($(wc -l <"$ref/manifest.jsonl") lines)," \
      "quarantine.jsonl and signatures.bin identical, $n_ref objects identical (names and bytes)"
    exit 0
  fi
  local msg="" p
  for p in "${problems[@]}"; do msg+="${msg:+; }$p"; done
  say "FAIL: $msg"
  exit 1
}

trap cleanup EXIT
trap 'signal=INT; exit 130' INT
trap 'signal=TERM; exit 143' TERM
check_prerequisites
tmp=$(mktemp -d)
chmod 711 "$tmp"
mkdir "$tmp/work"
say "temporary directory $tmp"
start_munged
write_slurm_conf
start_slurm
make_inputs
reference_collect
run_jobs
compare
