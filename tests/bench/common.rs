//! Helpers shared by the benchmarks (each bench includes this file).

use std::path::Path;
use std::time::{Duration, Instant};

/// Poll `log` until it contains `text`; the moment it was seen.
pub fn wait_for(log: &Path, text: &str, timeout: Duration) -> Option<Instant> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(text)
        {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// A sandbox of one master and two replicas in a new temporary directory (removed when the
/// returned guard drops; stop the servers with `sandbox::down` first).
pub async fn sandbox_up(
    prefix: &str,
    mode: mha::sandbox::Mode,
    base_port: u16,
) -> (tempfile::TempDir, mha::sandbox::State) {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let opts = mha::sandbox::UpOptions {
        dir: dir.path().into(),
        replicas: 2,
        mode,
        base_port,
        basedir: None,
        hosts: vec![],
        heartbeat: None,
        log_slave_updates: true,
        semi_sync: false,
    };
    let state = mha::sandbox::up(&opts).await.expect("sandbox up");
    (dir, state)
}

/// (min, median, max).
pub fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[0], v[v.len() / 2], v[v.len() - 1])
}
