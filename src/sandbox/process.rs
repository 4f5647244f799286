//! Processes the sandbox started, handled by pid only, and only after checking the pid still
//! belongs to the program we started (its command line names our config file).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// Reap the pid if it is our exited child, so it does not linger as a zombie.
fn reap(pid: u32) {
    let _ = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG));
}

pub fn is_alive(pid: u32) -> bool {
    reap(pid);
    crate::status::pid_alive(pid)
}

pub fn is_frozen(pid: u32) -> bool {
    matches!(crate::status::process_state(pid), Some('T'))
}

/// True when `pid` runs a command line that mentions `marker` (our config file path).
pub fn is_ours(pid: u32, marker: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let marker = marker.to_string_lossy();
    cmdline
        .split(|b| *b == 0)
        .any(|arg| String::from_utf8_lossy(arg).contains(marker.as_ref()))
}

pub fn signal(pid: u32, sig: Signal) -> std::io::Result<()> {
    kill(Pid::from_raw(pid as i32), sig).map_err(std::io::Error::from)
}

/// Wait until the process is gone; false on timeout.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !is_alive(pid)
}

/// Stop one of our processes: resume it if frozen, SIGTERM, and SIGKILL after `grace`.
/// Returns false when the pid is not ours any more (nothing is signalled then).
pub fn stop(pid: u32, marker: &Path, grace: Duration) -> bool {
    if !is_alive(pid) || !is_ours(pid, marker) {
        return false;
    }
    let _ = signal(pid, Signal::SIGCONT);
    let _ = signal(pid, Signal::SIGTERM);
    if !wait_gone(pid, grace) {
        let _ = signal(pid, Signal::SIGKILL);
        wait_gone(pid, Duration::from_secs(10));
    }
    true
}

/// Find a program by name in PATH and the usual sbin directories.
/// The first of `names` in the given directories.
pub fn find_program_in(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    crate::executor::tools::find_program_in(names, dirs)
}

pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in [
        "/usr/sbin",
        "/usr/local/sbin",
        "/sbin",
        "/usr/local/mysql/bin",
        "/usr/local/bin",
        "/usr/bin",
    ] {
        dirs.push(PathBuf::from(extra));
    }
    find_program_in(names, &dirs)
}

/// Is something listening on 127.0.0.1:port?
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_err()
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
