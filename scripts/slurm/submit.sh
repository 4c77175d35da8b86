#!/usr/bin/env bash
# Analyses a corpus on a Slurm cluster: one array task per shard, then a merge job.
#
#   scripts/slurm/submit.sh INPUT... --out RUN --shards N [--gpu] [--model M] [--cpus-per-task C]
#                           [--window-s S] [--hop-s S] [--wait]
#   scripts/slurm/submit.sh --resume RUN [--wait]
#
# The first form writes the run's manifest (RUN/run.json: inputs, model hash, parameters, N; it
# refuses a folder that holds anything else), submits analyze.sbatch as the array 1-N and
# merge.sbatch with --dependency=afterok on it. --resume resubmits only the shards that have no
# complete output (a killed, timed-out or pre-empted task) and a new merge job depending on them.
# Returns once submitted; with --wait, when the merge job has ended, with its exit status
# (RUN/results.jsonl is there when it succeeded).
#
# Environment: MERIT_STUDIO (the merit-studio binary the jobs run; default target/release/ of this
# checkout, else merit-studio on PATH: it must be reachable from the compute nodes, as must the
# inputs and RUN); sbatch's own SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ... apply.
# Exit status: 0 submitted (or, with --wait, merged); 2 nothing submitted (bad arguments, no
# sbatch, a folder of another run); otherwise the merge job's status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

die() { echo "submit: $1" >&2; exit "${2:-2}"; }
usage() {
  sed -n '4,5p' "$0" | sed 's/^# *//' >&2
  exit 2
}

inputs=() out="" shards="" gpu=0 model="" cpus=4 window="" hop="" wait=0 resume=""
while (($#)); do
  case $1 in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --shards) shards=${2:?--shards needs a number}; shift 2 ;;
    --gpu) gpu=1; shift ;;
    --model) model=${2:?--model needs a file}; shift 2 ;;
    --cpus-per-task) cpus=${2:?--cpus-per-task needs a number}; shift 2 ;;
    --window-s) window=${2:?}; shift 2 ;;
    --hop-s) hop=${2:?}; shift 2 ;;
    --wait) wait=1; shift ;;
    --resume) resume=${2:?--resume needs the run folder}; shift 2 ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) inputs+=("$1"); shift ;;
  esac
done

for command in sbatch squeue scontrol; do
  command -v "$command" >/dev/null || die "$command not found: run this where Slurm's client commands are (a login node), or start a one-machine Slurm with scripts/slurm/local-cluster.sh start"
done

# The jobs' settings, kept beside the manifest for --resume.
settings_file() { echo "$1/submit.env"; }

submit_jobs() { # INDICES (e.g. 1-8 or 2,7)
  local indices=$1 device=cpu gres=() array_id
  if ((gpu)); then
    device=cuda
    gres=(--gres=gpu:1)
  fi
  mkdir -p "$run/logs"
  array_id=$(sbatch --parsable --job-name=merit-analyze --array="$indices" --cpus-per-task="$cpus" \
    "${gres[@]}" --output="$run/logs/analyze-%A_%a.log" \
    "$here/analyze.sbatch" "$studio" "$run" "$shards" "$device") || die "sbatch refused the array job" 1
  array_id=${array_id%%;*}
  echo "array $array_id $indices" >>"$run/jobs"
  submit_merge "afterok:$array_id"
  echo "submit: shards $indices of $shards: array job $array_id; merge job $merge_id after it; logs in $run/logs/" >&2
}

submit_merge() { # [DEPENDENCY]
  local dependency=()
  [[ -z ${1:-} ]] || dependency=(--dependency="$1" --kill-on-invalid-dep=yes)
  mkdir -p "$run/logs"
  merge_id=$(sbatch --parsable --job-name=merit-merge "${dependency[@]}" \
    --output="$run/logs/merge-%j.log" "$here/merge.sbatch" "$studio" "$run") \
    || die "sbatch refused the merge job" 1
  merge_id=${merge_id%%;*}
  echo "merge $merge_id" >>"$run/jobs"
}

job_field() { # JOB FIELD: from `scontrol show job`, empty once Slurm has forgotten the job
  { scontrol show job -o "$1" 2>/dev/null || true; } | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

wait_for_merge() {
  local state="" code
  echo "submit: waiting for merge job $merge_id" >&2
  while :; do
    state=$(job_field "$merge_id" JobState)
    case $state in
      PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | REQUEUED | RESIZING) sleep 2 ;;
      *) break ;;
    esac
  done
  code=$(job_field "$merge_id" ExitCode)
  code=${code%%:*}
  case $state in
    COMPLETED)
      echo "submit: merged: $run/results.jsonl (log $run/logs/merge-$merge_id.log)" >&2
      exit 0 ;;
    CANCELLED*)
      echo "submit: merge job $merge_id was cancelled: a shard task did not finish (see $run/logs/); finish the run with $0 --resume $run" >&2
      exit 1 ;;
    "")
      if [[ -s $run/results.jsonl ]] && [[ $run/results.jsonl -nt $run/jobs ]]; then
        exit 0
      fi
      echo "submit: Slurm no longer knows merge job $merge_id and $run/results.jsonl is not there; see $run/logs/" >&2
      exit 1 ;;
    *)
      echo "submit: merge job $merge_id ended $state (exit ${code:-?}); see $run/logs/merge-$merge_id.log" >&2
      exit "${code:-1}" ;;
  esac
}

if [[ -n $resume ]]; then
  ((${#inputs[@]} == 0)) && [[ -z $out && -z $shards && -z $model ]] \
    || die "--resume takes only the run folder (and --wait): the run's settings are in its folder"
  run=$(realpath -m "$resume")
  [[ -f $run/run.json ]] || die "$run is not a run folder (no run.json)"
  [[ -f $(settings_file "$run") ]] || die "$run was not submitted by this script (no submit.env)"
  # shellcheck source=/dev/null
  source "$(settings_file "$run")"
  studio=$(realpath -m "${MERIT_STUDIO:-$studio}")
  [[ -x $studio ]] || die "$studio (the binary this run was submitted with) is gone; point MERIT_STUDIO at one"
  # Jobs of this run that Slurm still has: shard tasks must end first (a shard that is running is
  # not missing); a merge job still waiting is cancelled when shards are missing (it can never
  # run: a cancelled or failed task never satisfies afterok), else it is the one to wait for.
  active=() waiting_merges=()
  while read -r kind id _; do
    [[ -n $id ]] || continue
    queued=$({ squeue -h -j "$id" -o %T 2>/dev/null || true; } | head -n 1)
    if [[ -z $queued ]]; then
      continue
    elif [[ $kind == merge && $queued == PENDING ]]; then
      waiting_merges+=("$id")
    else
      active+=("$id")
    fi
  done <"$run/jobs"
  ((${#active[@]} == 0)) || die "jobs ${active[*]} of this run are still queued or running: wait for them (or scancel them), then resume"
  missing=$("$studio" cluster missing "$run") || die "cannot check $run's shards"
  if [[ -n $missing ]]; then
    for id in "${waiting_merges[@]}"; do
      scancel "$id" && echo "submit: cancelled merge job $id (it waited on shards that did not finish)" >&2
    done
    submit_jobs "${missing// /,}"
  elif ((${#waiting_merges[@]})); then
    merge_id=${waiting_merges[-1]}
    echo "submit: every shard is finished and merge job $merge_id is queued; nothing to resubmit" >&2
  else
    echo "submit: every shard is finished; submitting the merge only" >&2
    submit_merge ""
    echo "submit: merge job $merge_id; log in $run/logs/" >&2
  fi
  ((wait)) && wait_for_merge
  exit 0
fi

((${#inputs[@]})) || usage
[[ -n $out ]] || die "--out RUN is required (a new folder for the run)"
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "--shards N is required: a whole number of at least 1"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus-per-task must be a whole number of at least 1"
studio=${MERIT_STUDIO:-}
if [[ -z $studio ]]; then
  if [[ -x $root/target/release/merit-studio ]]; then
    studio=$root/target/release/merit-studio
  else
    studio=$(command -v merit-studio) || die "no merit-studio binary: build it (cargo build --release) or set MERIT_STUDIO"
  fi
fi
studio=$(realpath "$studio")
run=$(realpath -m "$out")

plan=("$studio" cluster plan "${inputs[@]}" --out "$run" --shards "$shards")
[[ -z $model ]] || plan+=(--model "$model")
[[ -z $window ]] || plan+=(--window-s "$window")
[[ -z $hop ]] || plan+=(--hop-s "$hop")
"${plan[@]}" || die "nothing submitted"
printf 'studio=%q\nshards=%q\ngpu=%q\ncpus=%q\n' "$studio" "$shards" "$gpu" "$cpus" >"$(settings_file "$run")"
: >"$run/jobs"
submit_jobs "1-$shards"
((wait)) && wait_for_merge
exit 0
