#!/usr/bin/env bash
# Mutation testing of the modules whose knobs a user turns (issue 15), with mutmut 3.8.1.
#
#   scripts/mutation.sh [MODULE ...]     MODULE: nmf separation spectral outputs detection loops
#                                        copies (default: all seven, in that order)
#
# Not part of CI. The whole run (all five, two children) took 26 min on
# 2026-11-30, 23:23-23:50, on this 2-core machine at load average 2-3:
# nmf 445 s, separation 341 s, spectral 458 s, outputs 53 s, detection 284 s.
# (With one child and other jobs at load 7-9 it had taken an hour for nmf alone.)
# Detection mutates by default only its decision and
# range functions (in detection/search.py and detection/door.py; 763 of
# 1357 mutants when they were one detection.py) and runs only its fast tests
# (synthetic features and one small fit): its other tests fit the real clips,
# 20-60 s a mutant. Its loading, checks and learning are left to those tests.
# Each module runs in its own scratch copy of the repository under
# $MUTATION_DIR (default /tmp/nmf-mutation/MODULE), so the working tree is
# never touched (mutmut writes a mutants/ folder next to its setup.cfg) and
# each module gets its own [mutmut] section: only that module is mutated, and
# only the test files that exercise it are run. mutmut then runs, for each
# mutant, only the tests that called the mutated function.
#
# Prints, per module: mutants, killed (incl. timeouts), survived, score.
# Survivors judged equivalent are listed, with the reason, in
# tests/mutation_survivors.md. `mutmut show NAME` inside the scratch copy
# prints a mutant's diff.
#
# Environment: MUTATION_CHILDREN (default 2) parallel mutants;
# MUTATION_DIR scratch root; MUTATION_NAMES mutant name globs to run only
# some functions, e.g. 'nmf_helpers.spectral.x_griffin_lim*' (for detection
# they replace its default names).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python="$repo/.venv/bin/python"
mutmut="$repo/.venv/bin/mutmut"
root=${MUTATION_DIR:-/tmp/nmf-mutation}
children=${MUTATION_CHILDREN:-2}

# The tests of time_range_frames and shift_templates that live beside their callers.
# (One line each: the plan's entries are read with `read`, which stops at a newline.)
spectral_tests="tests/test_spectral.py tests/test_properties.py"
spectral_tests+=" tests/test_vocals.py::test_time_range_frames"
spectral_tests+=" tests/test_vocals.py::test_bad_time_ranges_are_refused"
spectral_tests+=" tests/test_vocals.py::test_instrumental_frames_lie_wholly_inside_the_range"
spectral_tests+=" tests/test_detection.py::test_shift_templates_moves_partials_along_log_frequency"
# detection: the fast tests only (synthetic features and one small fit, a few
# seconds in all); test_detection.py's others fit the real clips (20-60 s a mutant).
detection_tests="tests/test_detection_knobs.py"
for test in an_occurrence_grows_from_its_path_to_where_the_sample_plays \
    a_chop_stops_where_the_track_stops_using_the_sample \
    a_covered_stretch_shorter_than_the_gap_is_bridged_and_a_longer_one_ends_it \
    a_sample_tail_under_the_level_is_kept_only_at_the_samples_own_end \
    a_rest_in_the_sample_longer_than_the_gap_neither_ends_nor_starts_an_occurrence; do
  detection_tests+=" tests/test_detection.py::test_$test"
done
# The decision and ranges live in two modules of the nmf_helpers.detection package:
# mutmut names a mutant after its module, then x_FUNCTION__mutmut_N.
detection_files="nmf_helpers/detection/search.py nmf_helpers/detection/door.py"
detection_names=""
for function in _find_occurrences _kept_once _occurrence_extent _overlap _shift_estimate _candidates \
    _ratio_grid _alignment_inputs _harmony _harmonies _local_match _harmony_of; do
  detection_names+=" nmf_helpers.detection.search.x_${function}__mutmut_*"
done
detection_names+=" nmf_helpers.detection.door.x_detect_in_spectrogram_unchecked__mutmut_*"
# loops: the search's second look for plays (a lone play's neighbours, a loop's
# missing plays), a loop's plays together (its evidence and steady period) and
# the banded view the fit works on, with their own tests, which fit short
# renders (about 5 s in all).
loops_tests="tests/test_detection_loops.py tests/test_detection_bands.py"
loops_names=" nmf_helpers.detection.bands.x_*"
for function in _play_again _play_near _spans _complete_loops _loops _groups _centre _anchor \
    _loop_grid _best_window _missing_plays _window_near _fit_to_loop _kept_apart _grid_tolerance _grid_reach \
    _loop_evidence _steady_period _halved_period; do
  loops_names+=" nmf_helpers.detection.search.x_${function}__mutmut_*"
done
# copies: exact copies of the sample's waveform (detection/copies.py), every function,
# and where door.py makes the search's occurrences agree with them, with their own
# tests (noise at known levels and the field clips, about 15 s in all).
copies_tests="tests/test_detection_copies.py"
copies_names=" nmf_helpers.detection.copies.x_*"
for function in _agrees _outside _joined _copies_decide _copies_missed; do
  copies_names+=" nmf_helpers.detection.door.x_${function}__mutmut_*"
done
# module -> "files to mutate|test files (both space-separated)|pytest -k expression (optional)"
# The -k expressions leave out the slowest comparisons (scikit-learn's NMF at
# K = 30, a whole-clip fit against two tracks; Griffin-Lim's spectral
# convergence beside librosa's, which test_griffin_lim_starts_from_librosas_phases
# checks sample by sample in a tenth of the time): a mutant only they would
# kill counts as a survivor, so the score is, if anything, too low.
declare -A plan=(
  [nmf]="nmf_helpers/nmf.py|tests/test_nmf.py tests/test_properties.py|not scikit_learn and not related_clip"
  [separation]="nmf_helpers/separation.py|tests/test_separation.py tests/test_properties.py"
  [spectral]="nmf_helpers/spectral.py|$spectral_tests|not matches_librosa_from_the_same_start"
  [outputs]="nmf_helpers/cli/_outputs.py|tests/test_outputs.py"
  [detection]="$detection_files|$detection_tests"
  [loops]="nmf_helpers/detection/search.py nmf_helpers/detection/bands.py|$loops_tests"
  [copies]="nmf_helpers/detection/copies.py nmf_helpers/detection/door.py|$copies_tests"
)
# Mutant names run by default (MUTATION_NAMES, when set, replaces them): detection's
# decision and ranges; its loading, checks and learning are left to the slow tests.
declare -A default_names=(
  [detection]="$detection_names"
  [loops]="$loops_names"
  [copies]="$copies_names"
)
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(nmf separation spectral outputs detection loops copies)

summary=()
for module in "${modules[@]}"; do
  entry=${plan[$module]:-}
  if [ -z "$entry" ]; then
    echo "unknown module '$module': choose from ${!plan[*]}" >&2
    exit 2
  fi
  IFS='|' read -r target tests selection <<<"$entry"
  work="$root/$module"
  rm -rf "$work"
  mkdir -p "$work"
  # The package, its tests and the clips the tests load (audio/ beside the package).
  cp -r "$repo/nmf_helpers" "$repo/tests" "$repo/audio" "$repo/pyproject.toml" "$work/"
  find "$work" -name __pycache__ -prune -exec rm -rf {} +
  {
    echo "[mutmut]"
    echo "source_paths=nmf_helpers"
    echo "only_mutate="
    for path in $target; do echo "    $path"; done
    echo "also_copy=audio"
    echo "pytest_add_cli_args_test_selection="
    for test in $tests; do echo "    $test"; done
    if [ -n "$selection" ]; then
      echo "    -k"
      echo "    $selection"
    fi
    # -p no:cacheprovider: the copies are thrown away; -x: one failure kills.
    echo "pytest_add_cli_args="
    echo "    -x"
    echo "    -q"
    echo "    -p"
    echo "    no:cacheprovider"
    echo "    -p"
    echo "    no:randomly"
    echo "timeout_multiplier=5"
    # Fork each mutant from a server that has only collected the tests. mutmut's
    # default forks from its main process, which ran the clean tests there:
    # numba's workqueue pool of phase_projection (parallel=True) was then
    # started in the parent, and every child that called it found the pool's
    # state without its threads and raised SIGTERM on itself ("concurrent
    # access"), exit -15, which mutmut counts as "suspicious".
    echo "process_isolation=forkserver"
    echo "use_git_change_detection=false"
  } >"$work/setup.cfg"
  echo "== $module: mutating $target with $tests" >&2
  started=$(date +%s)
  # set -f: the names are globs for mutmut, not for the shell.
  (set -f && cd "$work" && CI=true NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \
      "$mutmut" run --max-children "$children" ${MUTATION_NAMES:-${default_names[$module]:-}} >"$work/run.log" 2>&1) || true
  seconds=$(($(date +%s) - started))
  (cd "$work" && "$mutmut" results --all true >"$work/results.txt" 2>&1) || true
  line=$("$python" - "$work/results.txt" "$module" "$seconds" <<'EOF'
import collections, sys
path, module, seconds = sys.argv[1:]
counts = collections.Counter()
for raw in open(path):
    if ":" not in raw or "__mutmut_" not in raw:
        continue
    name, status = raw.rsplit(":", 1)
    counts[status.strip()] += 1
killed = counts["killed"] + counts["timeout"]
judged = killed + counts["survived"]
score = 100.0 * killed / judged if judged else float("nan")
other = {k: v for k, v in counts.items() if k not in ("killed", "timeout", "survived")}
print(f"{module:<11} mutants {sum(counts.values()):4d}  killed {killed:4d}  "
      f"survived {counts['survived']:3d}  score {score:5.1f} %  ({seconds} s) {other or ''}")
EOF
)
  echo "$line"
  summary+=("$line")
  grep ": survived" "$work/results.txt" | sed "s/^ */  survivor /" >&2 || true
done
echo
echo "== mutation score per module (killed / (killed + survived))"
printf '%s\n' "${summary[@]}"
