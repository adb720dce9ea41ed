/**
 * The watchdog program: POSIX sh (dash, bash, busybox sh), about 1 MB of memory instead of the
 * 40 MB of a second Node. Corral writes it to a private temporary file and runs `sh <file> <graceMs>`
 * with its registration pipe as stdin; the script deletes its file as soon as it runs.
 *
 * Protocol, one line each, written by src/process/watchdog.ts:
 *
 *     g PGID SIGNUM          watch process group PGID, stopped with signal number SIGNUM
 *     G PGID                 stop watching process group PGID
 *     c ID SIGNUM PATH       watch the cgroup directory PATH (the rest of the line) under ID
 *     C ID                   stop watching cgroup ID
 *     d PATH                 rmdir PATH at the very end, best effort (Corral's `corral-<pid>/`)
 *
 * End of input means Corral is gone, however it ended (the kernel closes the pipe). With nothing
 * watched, the watchdog exits at once. Otherwise it sends each stop signal (to every group, and to
 * every process of every cgroup), waits up to the grace period for all of them to be empty, then
 * writes `cgroup.kill` (or SIGKILLs each pid of a frozen cgroup on kernels before 5.14) and
 * SIGKILLs every group, removes the cgroups and directories, and exits.
 */
export const WATCHDOG_SCRIPT = shell`# corral watchdog; see src/process/watchdog-script.ts
set -f
grace_ms=$1
rm -f "$0" 2>/dev/null
rmdir "\${0%/*}" 2>/dev/null
# Signals meant for Corral's terminal or service are not for us: the end of input decides.
trap '' INT HUP TERM QUIT
# Be the last thing the OOM killer picks (only effective with the right to lower it).
{ echo -1000 > /proc/self/oom_score_adj; } 2>/dev/null
groups=' '
cgroups=' '
dirs=''
nl='
'

# drop LIST KEY: remove the " KEY:..." entry from the list variable named LIST.
drop() {
  eval "list=\$$1"
  case $list in
  *" $2:"*) rest=\${list#* "$2":}; list="\${list%% "$2":*} \${rest#* }" ;;
  esac
  eval "$1=\$list"
}

numbers() {
  case "$1:$2" in
  *[!0-9:]* | :* | *:) return 1 ;;
  esac
}

# signal_cgroup SIGNUM PATH: signal every process directly in the cgroup.
signal_cgroup() {
  { while read -r pid; do kill -"$1" "$pid"; done < "$2/cgroup.procs"; } 2>/dev/null
}

# group_alive PGID: true while the group has a member that is not a zombie.
group_alive() {
  kill -0 -"$1" 2>/dev/null || return 1
  set +f
  for stat in /proc/[0-9]*/stat; do
    { read -r line < "$stat"; } 2>/dev/null || continue
    set -f
    set -- "$1" \${line##*) }
    [ "$4" = "$1" ] && [ "$2" != Z ] && return 0
    set +f
  done
  set -f
  return 1
}

busy() {
  for entry in $groups; do group_alive "\${entry%%:*}" && return 0; done
  for entry in $cgroups; do
    eval "path=\$cg_\${entry%%:*}"
    { read -r key value < "$path/cgroup.events"; } 2>/dev/null && [ "$value" = 1 ] && return 0
  done
  return 1
}

while IFS= read -r line || [ -n "$line" ]; do
  set -- $line
  case $1 in
  g) numbers "$2" "$3" && { drop groups "$2"; groups="$groups$2:$3 "; } ;;
  G) numbers "$2" 0 && drop groups "$2" ;;
  c)
    if numbers "$2" "$3"; then
      path=\${line#c $2 $3 }
      drop cgroups "$2"
      cgroups="$cgroups$2:$3 "
      eval "cg_$2=\$path"
    fi
    ;;
  C) numbers "$2" 0 && drop cgroups "$2" ;;
  d) dirs="$dirs\${line#d }$nl" ;;
  esac
  line=''
done

if [ "$groups$cgroups" != '  ' ]; then
  for entry in $groups; do kill -"\${entry#*:}" -"\${entry%%:*}" 2>/dev/null; done
  for entry in $cgroups; do
    eval "path=\$cg_\${entry%%:*}"
    signal_cgroup "\${entry#*:}" "$path"
  done
  waited=0
  while [ "$waited" -lt "$grace_ms" ] && busy; do
    sleep 0.1
    waited=$((waited + 100))
  done
  for entry in $cgroups; do
    eval "path=\$cg_\${entry%%:*}"
    [ -d "$path" ] || continue
    if ! { echo 1 > "$path/cgroup.kill"; } 2>/dev/null; then
      for round in 1 2 3 4 5; do
        { echo 1 > "$path/cgroup.freeze"; } 2>/dev/null
        signal_cgroup 9 "$path"
        { echo 0 > "$path/cgroup.freeze"; } 2>/dev/null
      done
    fi
  done
  for entry in $groups; do kill -9 -"\${entry%%:*}" 2>/dev/null; done
  # A cgroup can be removed once its last process is gone; that takes a moment after SIGKILL.
  for entry in $cgroups; do
    eval "path=\$cg_\${entry%%:*}"
    [ -d "$path" ] || continue
    for round in 1 2 3 4 5 6 7 8 9 10; do
      rmdir "$path" 2>/dev/null || [ ! -d "$path" ] && break
      sleep 0.1
    done
  done
fi
IFS=$nl
for dir in $dirs; do [ -d "$dir" ] && rmdir "$dir" 2>/dev/null; done
exit 0
`;

/**
 * The script is kept as readable sh: a template literal would read every shell `${` as its own
 * placeholder, so the source writes it `\${` and this tag restores it; nothing else is escaped.
 */
function shell(strings: TemplateStringsArray): string {
  return strings.raw.join('').replaceAll('\\${', '${');
}
