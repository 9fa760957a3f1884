//! What the benchmarks need to know about the machine they run on: its
//! CPUs (and pinning this process to one of them), its load average, today's
//! date, and where the programs under test are.
//!
//! Read-only, except `pin`, which changes this process's CPU affinity and
//! nothing else.

use std::path::PathBuf;

/// Where the processes run: the generator's CPU and the peers' list.
#[derive(Debug)]
pub(crate) struct Cpus {
    pub(crate) generator: u32,
    pub(crate) peers: String,
}

/// Keeps this process (every thread, now and later) to the first CPU it may
/// use and returns the rest for the peers; `None` (and a warning) with fewer
/// than two CPUs or without `taskset`.
pub(crate) fn pin() -> Option<Cpus> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
        .trim();
    let allowed = cpu_list(list)?;
    let (&generator, rest) = allowed.split_first()?;
    if rest.is_empty() {
        eprintln!("levee-bench: one CPU only: nothing pinned");
        return None;
    }
    let pid = std::process::id().to_string();
    let pinned = std::process::Command::new("taskset")
        .args([
            "--all-tasks",
            "--pid",
            "--cpu-list",
            &generator.to_string(),
            &pid,
        ])
        .stdout(std::process::Stdio::null())
        .status();
    if !matches!(pinned, Ok(s) if s.success()) {
        eprintln!("levee-bench: taskset failed or is missing: nothing pinned");
        return None;
    }
    let peers: Vec<String> = rest.iter().map(u32::to_string).collect();
    Some(Cpus {
        generator,
        peers: peers.join(","),
    })
}

/// The CPUs of a Linux CPU list such as `0-3,6`.
fn cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them (Linux).
pub(crate) fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(", "))
}

/// `name` on PATH, or in /usr/sbin (where Debian puts nginx and haproxy).
pub(crate) fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `path`, if a file is there.
pub(crate) fn existing(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    p.is_file().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_as_the_kernel_writes_them() {
        assert_eq!(cpu_list("0-1"), Some(vec![0, 1]));
        assert_eq!(cpu_list("0,2-4,7"), Some(vec![0, 2, 3, 4, 7]));
        assert_eq!(cpu_list("3"), Some(vec![3]));
        assert_eq!(cpu_list("0-x"), None);
    }
}
