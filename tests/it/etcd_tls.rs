//! Managers coordinated through an etcd that serves TLS only and asks for client
//! certificates (`--client-cert-auth`), the certificates made by the openssl CLI: with the
//! right CA and a client certificate one leads and another stands by; a wrong CA, a host the
//! certificate does not name, or no client certificate leave a manager standing by with the
//! reason in its log, never leading.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mha::sandbox::Mode;

use crate::bed::{self, Cluster, Daemon};
use crate::etcd::{self, EtcdServer, LEADS, MONITORING, TTL};

/// `etcd::conf` with `url` for etcd and these TLS keys (file names in `tls`).
fn tls_conf(c: &Cluster, name: &str, url: &str, keys: &[(&str, &str)], tls: &Path) -> PathBuf {
    let p = etcd::conf(c, name, 0);
    let mut set = format!("etcd_endpoints = \"{url}\"\n");
    for (key, file) in keys {
        set += &format!("{key} = \"{}\"\n", tls.join(file).display());
    }
    let text = std::fs::read_to_string(&p).unwrap();
    let text = text.replacen("etcd_endpoints = \"http://127.0.0.1:0\"\n", &set, 1);
    assert!(text.contains(&set), "{text}");
    std::fs::write(&p, text).unwrap();
    p
}

const CLIENT: [(&str, &str); 3] = [
    ("etcd_cacert", "ca.pem"),
    ("etcd_cert", "client.pem"),
    ("etcd_key", "client.key"),
];

/// A manager that cannot use etcd: it stands by, logs `why` (once), and does not lead.
async fn refused(c: &Cluster, conf: &Path, name: &str, why: &str) -> Daemon {
    let m = etcd::manager(c, conf, name);
    m.expect_nth(why, 1, Duration::from_secs(15)).await;
    m.expect_nth("Standing by", 1, Duration::from_secs(5)).await;
    assert_eq!(etcd::status(c, conf, name), 40, "{}", m.output());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_lead_and_stand_by_through_etcd_over_tls_with_client_certificates() {
    let tls = etcd::tls_files();
    let server = EtcdServer::start_tls(tls.path());
    let c = Cluster::start(2, Mode::Gtid).await;
    let url = |host: &str| format!("https://{host}:{}", server.client_port);
    let other_ca = [("etcd_cacert", "other-ca.pem"), CLIENT[1], CLIENT[2]];

    // Those that cannot use etcd start first: were any of them let through, it would lead.
    let conf = tls_conf(
        &c,
        "wrong-ca.toml",
        &url("127.0.0.1"),
        &other_ca,
        tls.path(),
    );
    let w = refused(&c, &conf, "w", "invalid peer certificate: UnknownIssuer").await;
    let conf = tls_conf(
        &c,
        "wrong-name.toml",
        &url("127.0.0.2"),
        &CLIENT,
        tls.path(),
    );
    let n = refused(&c, &conf, "n", "certificate not valid for name").await;
    let conf = tls_conf(
        &c,
        "no-cert.toml",
        &url("127.0.0.1"),
        &CLIENT[..1],
        tls.path(),
    );
    let x = refused(&c, &conf, "x", "received fatal alert").await;

    let conf = tls_conf(&c, "app1.toml", &url("127.0.0.1"), &CLIENT, tls.path());
    let a = etcd::manager(&c, &conf, "a");
    a.expect_nth(LEADS, 1, Duration::from_secs(TTL + 5)).await;
    a.expect_nth(MONITORING, 1, Duration::from_secs(30)).await;
    assert_eq!(etcd::status(&c, &conf, "a"), 0, "{}", a.output());
    let b = etcd::manager(&c, &conf, "b");
    b.expect_nth("Standing by", 1, Duration::from_secs(10))
        .await;
    // b reads who leads from etcd: check_status names a.
    let workdir = c.dir.path().join("work-b");
    let args = ["--manager_workdir", workdir.to_str().unwrap()];
    let start = std::time::Instant::now();
    loop {
        let (code, out) = bed::check_status(&conf, &args);
        assert_eq!(code, 40, "{out}\n{}", b.output());
        if out.contains(&format!(":{}", a.pid())) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for m in [&w, &n, &x, &b] {
        let out = m.output();
        assert!(!out.contains(LEADS), "{out}");
        assert!(!out.contains("Phase 1"), "{out}");
    }
    // Refused at every retry (each third of the TTL), logged when the reason changes only
    // (a loaded machine may add a timeout in between).
    for m in [&w, &n, &x] {
        let out = m.output();
        let warned: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_once(" WARN etcd: ").map(|(_, w)| w))
            .collect();
        assert!(!warned.is_empty(), "{out}");
        assert!(warned.windows(2).all(|w| w[0] != w[1]), "{out}");
    }
    // The key file's content is never logged.
    let key = std::fs::read_to_string(tls.path().join("client.key")).unwrap();
    let line = key.lines().nth(1).unwrap();
    for m in [&w, &n, &x, &a, &b] {
        assert!(!m.output().contains(line));
    }
}
