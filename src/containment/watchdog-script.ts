/**
 * The watchdog program: POSIX sh (dash, bash, busybox sh), about 1 MB of memory instead of the
 * 40 MB of a second Node. Corral runs it, with the script in variable CORRAL_WATCHDOG, as
 *
 *     sh -c 'eval "$CORRAL_WATCHDOG"' corral-watchdog GRACE_MS SLEEP RMDIR RM
 *
 * with its registration pipe as stdin. The last three are absolute paths of the only external
 * programs it runs, resolved by Corral at start-up (see system-tools.ts): it depends on no PATH
 * and no file of its own. Everything else (`read`, `kill`, `echo`, `[`) is a shell builtin.
 *
 * Protocol, one line each, written by src/containment/watchdog.ts:
 *
 *     g PGID SIGNUM [CGID]   watch process group PGID, stopped with signal number SIGNUM; CGID
 *                            names the watched cgroup that holds the whole group, if one does
 *     G PGID                 stop watching process group PGID
 *     c ID SIGNUM PATH       watch the cgroup directory PATH (the rest of the line) under ID
 *     C ID                   stop watching cgroup ID
 *     d PATH                 rmdir PATH at the very end, best effort (Corral's `corral-<pid>/`)
 *     r PATH                 remove PATH and everything in it at the very end (a temporary dir)
 *
 * End of input means Corral is gone, however it ended (the kernel closes the pipe). With nothing
 * watched, the watchdog only removes the directories and exits. Otherwise it sends each stop
 * signal (to every group, and to every process of every cgroup), waits until all of them are
 * empty or the grace period has passed on the wall clock, then writes `cgroup.kill` (or SIGKILLs
 * each pid of a frozen cgroup on kernels before 5.14) and SIGKILLs every group, removes the
 * cgroups and directories, and exits.
 *
 * What "empty" costs: one small read of `cgroup.events` per cgroup, whatever else the machine
 * runs. Only groups that no watched cgroup holds are looked for in /proc, all of them in one pass.
 * The clock is /proc/uptime (centiseconds), read with the `read` builtin, so that neither the
 * checks nor a busy machine's late wake-ups stretch the grace period.
 */
export const WATCHDOG_SCRIPT = shell`# corral watchdog; see src/containment/watchdog-script.ts
set -f
grace_ms=$1 sleep=$2 rmdir=$3 rm=$4
# Signals meant for Corral's terminal or service are not for us: the end of input decides.
trap '' INT HUP TERM QUIT
# Be the last thing the OOM killer picks (only effective with the right to lower it).
{ echo -1000 > /proc/self/oom_score_adj; } 2>/dev/null
groups=' '
cgroups=' '
dirs=''
trees=''
nl='
'
now=0 slept=0

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

# clock: now = centiseconds since boot. Without /proc/uptime, the time slept so far: the grace
# period then lasts longer than asked, never shorter.
clock() {
  if { read -r up idle < /proc/uptime; } 2>/dev/null; then
    case $up in
    *.[0-9][0-9])
      cs=\${up#*.}
      now=$((\${up%.*} * 100 + \${cs#0}))
      return
      ;;
    esac
  fi
  now=$((now + slept))
}

# busy: true while a watched cgroup, or a watched group no watched cgroup holds, has a process
# that is not a zombie.
busy() {
  for entry in $cgroups; do
    eval "path=\$cg_\${entry%%:*}"
    { read -r key value < "$path/cgroup.events"; } 2>/dev/null && [ "$value" = 1 ] && return 0
  done
  scan=' '
  for entry in $groups; do
    cgid=\${entry##*:}
    if [ -n "$cgid" ]; then
      case $cgroups in *" $cgid:"*) continue ;; esac
    fi
    # kill -0 is cheap, but also succeeds for a group of zombies: those are told apart below.
    kill -0 -"\${entry%%:*}" 2>/dev/null && scan="$scan\${entry%%:*} "
  done
  [ "$scan" = ' ' ] && return 1
  set +f
  set -- /proc/[0-9]*/stat
  set -f
  for stat do
    { read -r line < "$stat"; } 2>/dev/null || continue
    # The fields after the command name (which may hold spaces): state, ppid, pgrp, ...
    rest=\${line##*) }
    state=\${rest%% *}
    rest=\${rest#* }
    rest=\${rest#* }
    case $scan in *" \${rest%% *} "*) [ "$state" != Z ] && [ "$state" != X ] && return 0 ;; esac
  done
  return 1
}

while IFS= read -r line || [ -n "$line" ]; do
  set -- $line
  case $1 in
  g) numbers "$2" "$3" && numbers "\${4:-0}" 0 && { drop groups "$2"; groups="$groups$2:$3:$4 "; } ;;
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
  r) trees="$trees\${line#r }$nl" ;;
  esac
  line=''
done

if [ "$groups$cgroups" != '  ' ]; then
  for entry in $groups; do
    signum=\${entry#*:}
    kill -"\${signum%%:*}" -"\${entry%%:*}" 2>/dev/null
  done
  for entry in $cgroups; do
    eval "path=\$cg_\${entry%%:*}"
    signal_cgroup "\${entry#*:}" "$path"
  done
  clock
  deadline=$((now + (grace_ms + 9) / 10))
  while busy; do
    clock
    left=$((deadline - now))
    [ "$left" -gt 0 ] || break
    [ "$left" -gt 5 ] && left=5
    "$sleep" 0.0$left
    slept=$left
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
      "$rmdir" "$path" 2>/dev/null || [ ! -d "$path" ] && break
      "$sleep" 0.1
    done
  done
fi
IFS=$nl
for dir in $trees; do "$rm" -rf -- "$dir" 2>/dev/null; done
for dir in $dirs; do [ -d "$dir" ] && "$rmdir" "$dir" 2>/dev/null; done
exit 0
`;

/**
 * The script is kept as readable sh: a template literal would read every shell `${` as its own
 * placeholder, so the source writes it `\${` and this tag restores it; nothing else is escaped.
 */
function shell(strings: TemplateStringsArray): string {
  return strings.raw.join('').replaceAll('\\${', '${');
}
