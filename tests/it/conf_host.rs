//! `mha conf_host`: add/delete round-trips on both formats keeping every other byte, refusals
//! of bad input, and the current master cannot be deleted.

use mha::sandbox::Mode;

use crate::bed::{self, Cluster};

fn conf_host(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["conf_host"];
    all.extend_from_slice(args);
    let out = bed::run_mha(&bed::mha_bin(), &all);
    let (o, e) = bed::text(&out);
    (
        out.status.code().unwrap(),
        o.trim().to_string(),
        e.trim().to_string(),
    )
}

const INI: &str = "# app1: two servers\n[server default]\nuser=mha\n# nobody listens on these ports\n\n[server1]\nhostname=127.0.0.1\nport=1\n\n# the replica\n[server2]\nhostname=127.0.0.1\nport=2\n";

#[test]
fn ini_add_delete_round_trip_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app1.cnf");
    std::fs::write(&conf, INI).unwrap();
    let c = conf.to_str().unwrap();

    let (code, out, err) = conf_host(&[
        "--command=add",
        "--conf",
        c,
        "--hostname=127.0.0.1",
        "--block=3",
        "--params=port=3;candidate_master=1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("Wrote server3 entry to {c} ."));
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with(INI)
            && text.contains("[server3]\nhostname=127.0.0.1\nport=3\ncandidate_master=1\n"),
        "{text}"
    );
    let out = bed::run_mha(&bed::mha_bin(), &["check_config", "--conf", c]);
    assert!(out.status.success(), "{}", bed::text(&out).1);

    // Refused, and the file is unchanged: a duplicate, an unknown key, an app-wide key.
    for (params, block, want) in [
        ("port=3", "server3", "already exists"),
        ("prot=4", "server4", "did you mean `port`?"),
        ("ping_interval=1", "server4", "is application-wide"),
        ("port=99999", "server4", "expected a port number 1-65535"),
    ] {
        let (code, _, err) = conf_host(&[
            "--command=add",
            "--conf",
            c,
            "--hostname=h4",
            &format!("--block={block}"),
            &format!("--params={params}"),
        ]);
        assert_eq!(code, 78, "{params}: {err}");
        assert!(err.contains(want), "{params}: {err}");
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            text,
            "{params} changed the file"
        );
    }

    let (code, out, _) = conf_host(&["--command=delete", "--conf", c, "--block=server3"]);
    assert_eq!(
        (code, out),
        (0, format!("Deleted server3 entry from {c} ."))
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        INI,
        "add + delete is byte-identical"
    );
    let (code, out, _) = conf_host(&["--command=delete", "--conf", c, "--block=server3"]);
    assert_eq!(
        (code, out),
        (0, format!("Entry server3 not found from {c} ."))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toml_round_trip_and_the_master_is_not_deleted() {
    let cl = Cluster::start(2, Mode::Gtid).await;
    let conf = cl.state.app_config();
    let c = conf.to_str().unwrap();
    let original = std::fs::read_to_string(&conf).unwrap();

    let (code, _, err) = conf_host(&["--command=delete", "--conf", c, "--block=server1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("[server1] is the current master") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), original);

    let (code, out, err) = conf_host(&["--command=delete", "--conf", c, "--block=server3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("Deleted server3 entry from {c} ."));
    let deleted = std::fs::read_to_string(&conf).unwrap();
    assert!(
        !deleted.contains("[server3]") && deleted.contains("# Written by `mha sandbox up`"),
        "comments kept:\n{deleted}"
    );

    let n3 = cl.node("server3");
    let params = format!(
        "port={};ssh_port={};master_binlog_dir={};master_pid_file={}",
        n3.port,
        n3.sshd.port,
        n3.datadir.display(),
        n3.cnf.with_file_name("mysqld.pid").display()
    );
    let (code, _, err) = conf_host(&[
        "--command=add",
        "--conf",
        c,
        "--hostname=127.0.0.1",
        "--block=server3",
        &format!("--params={params}"),
    ]);
    assert_eq!(code, 0, "{err}");
    let again = std::fs::read_to_string(&conf).unwrap();
    assert!(again.contains("[server3]"), "{again}");
    // The edited file works for every command: check_repl is OK with server3 back.
    let out = bed::run_mha(&bed::mha_bin(), &["check_repl", "--conf", c]);
    assert_eq!(out.status.code(), Some(0), "{}", bed::text(&out).0);
}
