# Sourced by the A/B scripts: wait_for_idle_cpu returns once the CPU has been >= 95% idle
# for one second (at most TRIES seconds, default 120) — on a 2-core machine any other work
# doubles the figures.
idle_percent() {
    local a b
    a=$(awk '/^cpu /{print $5, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat); sleep 1
    b=$(awk '/^cpu /{print $5, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    set -- $a $b
    echo $(( 100 * ($3 - $1) / ($4 - $2) ))
}
wait_for_idle_cpu() {
    local tries=${1:-120}
    for _ in $(seq "$tries"); do [ "$(idle_percent)" -ge 95 ] && return 0; done
}
