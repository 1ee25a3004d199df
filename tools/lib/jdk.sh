# shellcheck shell=bash
# Shared helpers for the scripts in tools/: finding a JDK 25+ and running Maven with it.
# Source it, then call find_jdk (or require_jdk, which prints one line and exits 1 when none is found).

TESSELLA_MIN_JAVA=25

# Prints the feature version (8, 17, 25, ...) of the JDK at $1, or nothing when $1/bin/java is unusable.
jdk_feature_version() {
  local home=$1 v=""
  [[ -x "$home/bin/java" ]] || return 1
  if [[ -r "$home/release" ]]; then
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release" | head -n 1)
  fi
  if [[ -z "$v" ]]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
  fi
  [[ -n "$v" ]] || return 1
  if [[ $v == 1.* ]]; then v=${v#1.}; fi   # 1.8.0_392 -> 8
  v=${v%%[!0-9]*}                          # 25.0.3 -> 25, 26-ea -> 26
  [[ -n "$v" ]] || return 1
  printf '%s\n' "$v"
}

# True when $1 is a JDK (has bin/java and bin/javac) of version >= TESSELLA_MIN_JAVA.
jdk_ok() {
  local home=$1 v
  [[ -n "$home" && -x "$home/bin/java" && -x "$home/bin/javac" ]] || return 1
  v=$(jdk_feature_version "$home") || return 1
  (( v >= TESSELLA_MIN_JAVA ))
}

# Prints the home of a JDK >= 25: JAVA_HOME when it qualifies, else the newest one found in the usual places.
# Returns 1 (printing nothing) when there is none.
find_jdk() {
  if [[ -n "${JAVA_HOME:-}" ]] && jdk_ok "$JAVA_HOME"; then
    printf '%s\n' "$JAVA_HOME"
    return 0
  fi
  local cand best="" best_v=0 v
  local -a cands=()
  shopt -s nullglob
  cands+=(/usr/lib/jvm/* /opt/java /opt/java/* /usr/local/*jdk* /usr/local/java/* /opt/*jdk*)
  cands+=("$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*)
  shopt -u nullglob
  # the java on PATH, resolved through alternatives symlinks
  if command -v java >/dev/null 2>&1; then
    local j
    j=$(readlink -f "$(command -v java)" 2>/dev/null) && cands+=("${j%/bin/java}")
  fi
  for cand in "${cands[@]}"; do
    [[ -L "$cand" ]] && cand=$(readlink -f "$cand")
    jdk_ok "$cand" || continue
    v=$(jdk_feature_version "$cand")
    if (( v > best_v )); then best=$cand; best_v=$v; fi
  done
  [[ -n "$best" ]] || return 1
  printf '%s\n' "$best"
}

# Sets and exports JAVA_HOME to a JDK >= 25 or prints one line and exits 1.
require_jdk() {
  local home
  if ! home=$(find_jdk); then
    echo "tessella: needs a JDK ${TESSELLA_MIN_JAVA} or newer and found none; install one (e.g. apt-get install temurin-${TESSELLA_MIN_JAVA}-jdk) or set JAVA_HOME to it" >&2
    exit 1
  fi
  export JAVA_HOME=$home
}

# Runs Maven with JAVA_HOME set by require_jdk (call that first). Exit status is Maven's.
run_mvn() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "tessella: needs Maven (mvn) on PATH; install it (e.g. apt-get install maven)" >&2
    return 1
  fi
  MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow ${MAVEN_OPTS:-}" mvn "$@"
}

# Like run_mvn, for quiet builds before a run: all of Maven's output goes to stderr (stdout stays the program's),
# without the stray colour-reset codes Debian's Maven prints even in quiet batch mode. Exit status is Maven's.
run_mvn_build() {
  local rc=0
  { run_mvn "$@" 2>&1 | sed -u -e $'s/\x1b\\[0m//g' -e '/^$/d' >&2; rc=${PIPESTATUS[0]}; } || true
  return "$rc"
}

# The JVM options every Tessella run needs.
# The heap may use most of the memory: a gpt-s step at batch 64 keeps a 2 GB workspace, and the study holds several
# models and token sets beside it (the JVM default, a quarter of RAM, ran out in the 30-minute study on 24 GB).
# A small young generation: the workspace's chunks (up to 64 MiB) then go straight to the old one instead of being
# copied out of a young generation that had grown to gigabytes, and a steady-state step makes little garbage; peak RSS
# of a vq-s training step 2.55-2.64 GB -> 2.06-2.08 GB on 2 cores, no slower (bench train, two runs each). Since the
# workspace releases backward memory early, the young generation is a large part of what is left: 256 -> 32 MB cut the
# peak RSS of gpt-s from 1,409-1,765 to 1,098-1,128 MB and of vq-s from 1,050-1,244 to 733-736 MB (two runs each).
# Two GC threads: collecting a 32 MB young generation needs no more, and each GC thread costs about 25 MB of RSS
# (vq-s on 16 worker threads: 940 / 991 / 1,099 / 1,254 MB with 2 / 4 / 8 / 16 GC threads; the JVM's default on 16
# cores is 13).
TESSELLA_JVM_ARGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -XX:MaxRAMPercentage=75
  -XX:MaxNewSize=32m -XX:ParallelGCThreads=2)

# Runs "$@" with the JVM's start-up notice "WARNING: Using incubator modules: ..." (the first stderr line) removed;
# the rest of stderr passes through unbuffered (so progress lines that redraw with \r still work) and the exit
# status is the command's. Works with and without set -e / pipefail in the caller.
_drop_incubator_notice() {
  local line=""
  if IFS= read -r line || [[ -n $line ]]; then
    [[ $line == "WARNING: Using incubator modules"* ]] || printf '%s\n' "$line"
  fi
  cat
}
run_quiet_incubator() {
  local rc=0
  { "$@" 2>&1 1>&3 3>&- | _drop_incubator_notice >&2; rc=${PIPESTATUS[0]}; } 3>&1 || true
  return "$rc"
}
