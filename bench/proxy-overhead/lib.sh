# Shared by run.sh, profile.sh and instructions.sh (source it, don't run it):
# free loopback ports, cleanup of exactly the processes we started, and
# waiting for a URL to answer.

# Ports come from below the kernel's ephemeral range: a port there may be
# some client's source port (even in TIME-WAIT), and then bind fails.
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range
PORT_BASE=$(( EPHEMERAL_LOW > 22000 ? EPHEMERAL_LOW - 12000 : 10000 ))
TAKEN=" "
free_port() { # VAR: a port nothing listens on or connects from, not handed out before
    local p
    for _ in $(seq 1 200); do
        p=$((PORT_BASE + RANDOM % 10000))
        [[ $TAKEN == *" $p "* ]] && continue
        if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
            TAKEN+="$p "
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# Processes we start, and only those: add each pid to PIDS.
PIDS=()
cleanup() {
    local p all=()
    for p in "${PIDS[@]}"; do
        all+=("$p")
        # nginx workers: children of a master we started.
        while read -r c; do [[ -n $c ]] && all+=("$c"); done < <(pgrep -P "$p" 2>/dev/null || true)
    done
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ready() { # url [seconds, default 10]: wait until it answers 2xx, else exit 1
    for _ in $(seq 1 $(( ${2:-10} * 10 ))); do
        curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "not ready: $1" >&2
    exit 1
}
