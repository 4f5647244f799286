//! Several managers of one application coordinated through a real etcd (Debian's
//! etcd-server, started on loopback by the test): one leads and acts, the others stand by
//! (check_status 40:STANDBY); kill -9 the leader and another leads within the lease TTL + 1 s,
//! then fails a crashed master over; the block period holds across managers. Cut-offs and
//! three etcd members, on hosts in network namespaces: etcd_chaos.rs.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon, PortBlock};

/// The lease TTL of the tests, in seconds.
pub const TTL: u64 = 3;

/// One etcd member on loopback, its data in a tempdir; killed by pid when dropped.
pub struct EtcdServer {
    child: Child,
    pub client_port: u16,
    _dir: tempfile::TempDir,
    _ports: PortBlock,
}

impl EtcdServer {
    pub fn start() -> EtcdServer {
        Self::spawn("http", &["127.0.0.1"], &[])
    }

    /// etcd's client URLs `SCHEME://HOST:PORT` for each of `hosts` (one port; the first one
    /// advertised), its peer URL plain HTTP, and `extra` flags.
    fn spawn(scheme: &str, hosts: &[&str], extra: &[String]) -> EtcdServer {
        let ports = bed::port_block();
        let dir = tempfile::Builder::new()
            .prefix("mha-it-etcd-")
            .tempdir()
            .unwrap();
        let (client, peer) = (ports.base, ports.base + 1);
        let url = |p: u16| format!("http://127.0.0.1:{p}");
        let urls: Vec<String> = hosts
            .iter()
            .map(|h| format!("{scheme}://{h}:{client}"))
            .collect();
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new("etcd")
            .args(["--name", "m1", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &urls.join(",")])
            .args(["--advertise-client-urls", &urls[0]])
            .args(["--listen-peer-urls", &url(peer)])
            .args(["--initial-advertise-peer-urls", &url(peer)])
            .args(["--initial-cluster", &format!("m1={}", url(peer))])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd is not installed (Debian: apt-get install etcd-server)");
        let e = EtcdServer {
            child,
            client_port: client,
            _dir: dir,
            _ports: ports,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", client)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "etcd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        e
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EtcdServer {
    /// One etcd member serving TLS with the certificates of [`tls_files`] on 127.0.0.1 and
    /// on 127.0.0.2 (same port; its certificate names 127.0.0.1 only), asking clients for a
    /// certificate of the same CA (`--client-cert-auth`).
    pub fn start_tls(tls: &Path) -> EtcdServer {
        let f = |name: &str| tls.join(name).to_string_lossy().into_owned();
        let flags = [
            ("--cert-file", f("server.pem")),
            ("--key-file", f("server.key")),
            ("--trusted-ca-file", f("ca.pem")),
            ("--client-cert-auth", "true".into()),
        ];
        let extra: Vec<String> = flags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Self::spawn("https", &["127.0.0.1", "127.0.0.2"], &extra)
    }
}

/// Made by the openssl CLI in a tempdir: ca.pem/ca.key (a CA), server.pem/server.key (etcd's
/// certificate, IP SAN 127.0.0.1, signed by the CA), client.pem/client.key (a client
/// certificate signed by the CA), other-ca.pem (another CA, which signed nothing here).
pub fn tls_files() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mha-it-etcd-tls-")
        .tempdir()
        .unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("the openssl CLI (Debian: apt-get install openssl)");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let req = |name: &str, subject: &str| -> Vec<String> {
        [
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            &format!("{name}.key"),
            "-days",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for ca in ["ca", "other-ca"] {
        let mut args = req(ca, &format!("/CN=mha test {ca}"));
        args.extend(["-x509".into(), "-out".into(), format!("{ca}.pem")]);
        openssl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let leaves = [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ];
    for (leaf, ext) in leaves {
        std::fs::write(dir.path().join(format!("{leaf}.ext")), ext).unwrap();
        let mut args = req(leaf, &format!("/CN=mha test {leaf}"));
        args.extend(["-out".into(), format!("{leaf}.csr")]);
        openssl(&args.iter().map(String::as_str).collect::<Vec<_>>());
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{leaf}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{leaf}.ext"),
            "-out",
            &format!("{leaf}.pem"),
        ]);
    }
    dir
}

/// The sandbox's configuration with etcd coordination, written as `name`.
pub fn conf(c: &Cluster, name: &str, etcd_port: u16) -> PathBuf {
    conf_at(c, name, &format!("http://127.0.0.1:{etcd_port}"))
}

/// The same with `etcd_endpoints = endpoints`.
pub fn conf_at(c: &Cluster, name: &str, endpoints: &str) -> PathBuf {
    let text = std::fs::read_to_string(c.state.app_config()).unwrap();
    let text = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\netcd_endpoints = \"{endpoints}\"\netcd_lease_ttl = {TTL}\n"),
        1,
    );
    let p = c.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A manager of its own workdir (another host's), logging to `manager-NAME.log`, with no
/// block period.
pub fn manager(c: &Cluster, conf: &Path, name: &str) -> Daemon {
    manager_with(c, conf, name, &["--last_failover_minute=0"])
}

fn manager_with(c: &Cluster, conf: &Path, name: &str, extra: &[&str]) -> Daemon {
    let workdir = c.dir.path().join(format!("work-{name}"));
    let log = c.dir.path().join(format!("manager-{name}.log"));
    let mut args = vec![
        "manager",
        "--conf",
        conf.to_str().unwrap(),
        "--manager_workdir",
        workdir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Daemon::start(&args, log)
}

pub fn status(c: &Cluster, conf: &Path, name: &str) -> i32 {
    let workdir = c.dir.path().join(format!("work-{name}"));
    bed::check_status(conf, &["--manager_workdir", workdir.to_str().unwrap()]).0
}

pub const LEADS: &str = "leads now";
pub const MONITORING: &str = "waiting until MySQL doesn't respond";

pub async fn crash_under_load(c: &Cluster) -> bed::Writer {
    c.create_acked_table().await;
    c.wait_acked_table("server3", Duration::from_secs(10)).await;
    let w = c.writer("server1");
    w.wait_acked(30, Duration::from_secs(30)).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_the_leader_another_leads_within_the_ttl_and_fails_over_once() {
    let etcd = EtcdServer::start();
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = conf(&c, "app1.toml", etcd.client_port);
    let mut a = manager(&c, &conf, "a");
    a.expect_nth(MONITORING, 1, Duration::from_secs(30)).await;
    let b = manager(&c, &conf, "b");
    b.expect_nth("Standing by", 1, Duration::from_secs(10))
        .await;
    assert_eq!(status(&c, &conf, "b"), 40, "{}", b.output());
    assert_eq!(status(&c, &conf, "a"), 0, "{}", a.output());

    let _ = a.child.kill();
    let killed = Instant::now();
    b.expect_nth(LEADS, 1, Duration::from_secs(TTL + 5)).await;
    let took = killed.elapsed();
    eprintln!("takeover after kill -9 of the leader: {took:?} (TTL {TTL} s)");
    assert!(took < Duration::from_secs(TTL + 1), "took {took:?}");
    b.expect_nth(MONITORING, 1, Duration::from_secs(20)).await;

    let w = crash_under_load(&c).await;
    b.expect_failovers(1, Duration::from_secs(40)).await;
    let acked = w.stop().await;
    c.assert_has_all("server2", &acked).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = format!("{}{}", a.output(), b.output());
    assert_eq!(
        all.matches("Phase 3.4: New Master Recovery Phase..")
            .count(),
        1,
        "{all}"
    );
}

/// The block period is kept in etcd: the leader that follows a failover monitors the new
/// master without the replaced one, and refuses a second failover within
/// last_failover_minute although its own workdir has no marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_block_period_holds_across_managers() {
    let etcd = EtcdServer::start();
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = conf(&c, "app1.toml", etcd.client_port);
    let mut a = manager_with(&c, &conf, "a", &[]);
    a.expect_nth(MONITORING, 1, Duration::from_secs(30)).await;
    let b = manager_with(&c, &conf, "b", &[]);
    b.expect_nth("Standing by", 1, Duration::from_secs(10))
        .await;

    let w = crash_under_load(&c).await;
    a.expect_failovers(1, Duration::from_secs(40)).await;
    a.expect_nth("etcd: failover recorded", 1, Duration::from_secs(5))
        .await;
    let acked = w.stop().await;
    c.assert_has_all("server2", &acked).await;
    let _ = a.child.kill();

    b.expect_nth(LEADS, 1, Duration::from_secs(TTL + 5)).await;
    b.expect_nth("replaced 127.0.0.1", 1, Duration::from_secs(5))
        .await;
    b.expect_nth(MONITORING, 1, Duration::from_secs(20)).await;
    sandbox::fault(c.dir.path(), "server2", Fault::Crash)
        .await
        .unwrap();
    b.expect_nth("Automatic failover refused", 1, Duration::from_secs(20))
        .await;
    let out = b.output();
    assert!(out.contains("etcd key /mha/app1/last_failover"), "{out}");
    assert!(!out.contains("Phase 2:"), "{out}");
}
