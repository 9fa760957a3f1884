# Shared by the benchmarks' run.sh scripts (source it, don't run it).

# ensure_tools TOOL…: installs those of the TOOLs (e.g. nginx, haproxy) that
# are neither on PATH nor in /usr/sbin, with apt, when running as root; else
# says they are missing (the benchmark then skips their legs).
ensure_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "run.sh: installing ${missing[*]}" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "run.sh: ${missing[*]} missing and cannot be installed here: those legs are skipped" >&2
    fi
  fi
}
