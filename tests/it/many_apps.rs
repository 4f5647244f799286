//! One manager, several applications (`manager --conf-dir`): a failover of one application
//! never delays the others' pings; `check_status` and `stop` work per application; SIGHUP
//! adds and removes applications without touching the others.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon};

/// Clusters watched by the one manager (`cargo bench --bench managers` measures the same
/// with its RSS).
pub const APPS: usize = 10;

/// The line a monitor writes once it pings its master.
pub const MONITORING: &str = "waiting until MySQL doesn't respond";

/// `n` clusters of a master and two replicas, and a directory with one application file per
/// cluster (`appI.toml`, each logging to its own manager_log `appI.log` in its cluster).
pub async fn clusters_and_conf_dir(n: usize) -> (Vec<Cluster>, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("mha-it-apps-")
        .tempdir()
        .unwrap();
    let mut clusters = Vec::new();
    for i in 1..=n {
        let c = Cluster::start(2, Mode::Gtid).await;
        let text = std::fs::read_to_string(c.state.app_config()).unwrap();
        let log = app_log(&c, i);
        let text = text.replacen(
            "ping_interval = 1\n",
            &format!("ping_interval = 1\nmanager_log = \"{}\"\n", log.display()),
            1,
        );
        std::fs::write(dir.path().join(format!("app{i}.toml")), text).unwrap();
        clusters.push(c);
    }
    (clusters, dir)
}

pub fn app_log(c: &Cluster, i: usize) -> PathBuf {
    c.dir.path().join(format!("app{i}.log"))
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Wait until `file` holds `text` at least `n` times.
pub async fn wait_in(file: &Path, text: &str, n: usize, timeout: Duration) -> bool {
    let start = Instant::now();
    while read(file).matches(text).count() < n {
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

fn status_file(c: &Cluster, i: usize) -> PathBuf {
    c.dir
        .path()
        .join("manager")
        .join(format!("app{i}.master_status.health"))
}

/// Seconds since the application's status file was last refreshed (each ping refreshes it).
fn staleness(c: &Cluster, i: usize) -> Duration {
    std::fs::metadata(status_file(c, i))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(Duration::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_manager_many_apps_fails_over_one_while_the_others_ping_on_time() {
    let (clusters, dir) = clusters_and_conf_dir(APPS).await;
    let conf = |i: usize| dir.path().join(format!("app{i}.toml"));
    let out = clusters[0].dir.path().join("manager-many.log");
    let d = dir.path().to_str().unwrap();
    let m = Daemon::start(
        &["manager", "--conf-dir", d, "--last_failover_minute=0"],
        out,
    );
    for (i, c) in clusters.iter().enumerate() {
        let log = app_log(c, i + 1);
        assert!(
            wait_in(&log, MONITORING, 1, Duration::from_secs(30)).await,
            "app{} not monitored:\n{}\n{}",
            i + 1,
            read(&log),
            m.output()
        );
    }

    // Crash the second application's master under a write load; watch the others' pings.
    let (c2, log2) = (&clusters[1], app_log(&clusters[1], 2));
    c2.create_acked_table().await;
    c2.wait_acked_table("server3", Duration::from_secs(10))
        .await;
    let w = c2.writer("server1");
    w.wait_acked(30, Duration::from_secs(30)).await;
    sandbox::fault(c2.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let crash = Instant::now();
    let mut worst = Duration::ZERO;
    while !read(&log2).contains("monitoring the new master") {
        assert!(
            crash.elapsed() < Duration::from_secs(40),
            "no failover of app2:\n{}\n{}",
            read(&log2),
            m.output()
        );
        for (i, c) in clusters.iter().enumerate().filter(|(i, _)| *i != 1) {
            worst = worst.max(staleness(c, i + 1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "app2 failed over in {:?}; the others' status files were at most {worst:?} old meanwhile",
        crash.elapsed()
    );
    // ping_interval = 1 s: a refresh is due every second; a delay would show as more.
    assert!(
        worst < Duration::from_millis(2500),
        "pings delayed: {worst:?}"
    );
    let acked = w.stop().await;
    c2.assert_has_all("server2", &acked).await;
    for (i, c) in clusters.iter().enumerate().filter(|(i, _)| *i != 1) {
        let log = read(&app_log(c, i + 1));
        assert!(!log.contains("Master is down"), "app{}:\n{log}", i + 1);
        assert!(
            !log.contains("app2"),
            "app{} has app2's lines:\n{log}",
            i + 1
        );
        assert_eq!(bed::check_status(&conf(i + 1), &[]).0, 0, "app{}", i + 1);
    }
    assert!(read(&log2).contains("app2"), "{}", read(&log2));

    per_app_stop_and_sighup(&clusters, &conf, &m).await;
}

/// `stop --conf app1.toml` stops app1 alone; a file removed from the directory and SIGHUP
/// stop its application, the file back and SIGHUP start it again; the others run on.
async fn per_app_stop_and_sighup(
    clusters: &[Cluster],
    conf: &dyn Fn(usize) -> PathBuf,
    m: &Daemon,
) {
    let stop = bed::run_mha(
        &bed::mha_bin(),
        &["stop", "--conf", conf(1).to_str().unwrap()],
    );
    assert!(stop.status.success(), "{:?}", bed::text(&stop));
    bed::wait_manager_status(&conf(1), 2, Duration::from_secs(10), m);
    assert_eq!(bed::check_status(&conf(APPS), &[]).0, 0);

    let aside = conf(APPS).with_extension("off");
    std::fs::rename(conf(APPS), &aside).unwrap();
    let hup = |pid: u32| {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap()
    };
    hup(m.pid());
    let workdir = clusters[APPS - 1].dir.path().join("manager");
    let status = workdir.join(format!("app{APPS}.master_status.health"));
    let start = Instant::now();
    while status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "app{APPS} not stopped:\n{}",
            m.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        staleness(&clusters[1], 2) < Duration::from_millis(2500),
        "app2 touched"
    );
    std::fs::rename(&aside, conf(APPS)).unwrap();
    hup(m.pid());
    let log = app_log(&clusters[APPS - 1], APPS);
    assert!(
        wait_in(&log, MONITORING, 2, Duration::from_secs(30)).await,
        "{}",
        read(&log)
    );
    // app2 went on without a restart: one start line for the first master, one after the failover.
    let log2 = read(&app_log(&clusters[1], 2));
    assert_eq!(
        log2.matches(MONITORING).count(),
        2,
        "{log2}\n{}",
        m.output()
    );
}
