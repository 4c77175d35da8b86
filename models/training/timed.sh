# Sourced by the pipeline's scripts (prepare.sh, run_all.sh, run_lofo.sh, run_se_head.sh,
# run_label_efficiency.sh), after they set $work.
# timed STAGE CMD...: runs CMD, appending {"stage", "wall_s", "user_s", "system_s", "exit"} to
# $work/timings.jsonl (merit.ship's recipe_stage lists the stage names that make the card's time table).
timed() {
  local stage=$1
  shift
  /usr/bin/time -a -o "$work/timings.jsonl" -f "{\"stage\": \"$stage\", \"wall_s\": %e, \"user_s\": %U, \"system_s\": %S, \"exit\": %x}" "$@"
}
