# bench/load_args.sh: the options shared by the probes that run one server under hello_load
# (callgrind_per_request.sh, perf_split.sh, uring_syscalls.sh). The caller sets its defaults
# (BUILD_DIR CONNECTIONS PIPELINE DURATION) and USAGE_LINES (the sed range of its header that
# --help prints), sources this file, then calls: parse_load_args "$0" "$@"
# which sets those variables and SERVER_CMD (the words after --, empty if there is no --).
# shellcheck shell=bash

# shellcheck disable=SC2034  # sets the caller's variables
parse_load_args() {
  local self=$1
  shift
  SERVER_CMD=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --build-dir) BUILD_DIR=$2; shift 2 ;;
      --connections) CONNECTIONS=$2; shift 2 ;;
      --pipeline) PIPELINE=$2; shift 2 ;;
      --duration) DURATION=$2; shift 2 ;;
      --) shift; SERVER_CMD=("$@"); return 0 ;;
      -h|--help) sed -n "$USAGE_LINES" "$self"; exit 0 ;;
      *) echo "$(basename "$self"): unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
  done
}
