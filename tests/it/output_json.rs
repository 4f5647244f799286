//! `--output json` of every read-only command, against docs/output-json.md: each command runs
//! on a live sandbox cluster taking writes, its output must parse, and every field path the
//! document's tables list must be in it; the document's examples must parse and hold them too.

use std::collections::BTreeMap;
use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};
use serde_json::Value;

use crate::bed::{self, Cluster};

/// One section of the document: its table's field paths and its examples.
#[derive(Default)]
struct Section {
    /// Paths not marked *(optional)*: always in the output.
    always: Vec<String>,
    /// Every path of the table.
    all: Vec<String>,
    examples: Vec<Value>,
}

impl Section {
    /// The top-level fields of `v` that no path of the table starts with.
    fn undocumented<'a>(&self, v: &'a Value) -> Vec<&'a str> {
        let tops: Vec<&str> = self
            .all
            .iter()
            .map(|p| p.split(['.', '[']).next().unwrap())
            .collect();
        v.as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| !tops.contains(k))
            .collect()
    }
}

/// The document's sections, by title.
fn documented() -> BTreeMap<String, Section> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/output-json.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: BTreeMap<String, Section> = BTreeMap::new();
    let mut section = None;
    let mut example: Option<String> = None;
    for line in text.lines() {
        if let Some(json) = example.as_mut() {
            if line == "```" {
                let v = serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("example of {section:?}: {e}"));
                out.get_mut(section.as_ref().unwrap())
                    .unwrap()
                    .examples
                    .push(v);
                example = None;
            } else {
                json.push_str(line);
                json.push('\n');
            }
        } else if let Some(title) = line.strip_prefix("## ") {
            section = Some(title.to_string());
            out.insert(title.to_string(), Section::default());
        } else if line == "```json" {
            example = Some(String::new());
        } else if let (Some(s), Some(row)) = (&section, line.strip_prefix("| `")) {
            let (field, rest) = row.split_once('`').unwrap();
            let section = out.get_mut(s).unwrap();
            if !rest.contains("*(optional)*") {
                section.always.push(field.to_string());
            }
            section.all.push(field.to_string());
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Found {
    Yes,
    No,
    /// Only empty arrays on the way: nothing to check.
    Empty,
}

/// Whether `path` (`a.b[].c`: `c` of at least one element of the array `b` of `a`) is in `v`.
fn find(v: &Value, path: &[&str]) -> Found {
    let Some((first, rest)) = path.split_first() else {
        return Found::Yes;
    };
    let (name, array) = match first.strip_suffix("[]") {
        Some(n) => (n, true),
        None => (*first, false),
    };
    let Some(field) = v.as_object().and_then(|o| o.get(name)) else {
        return Found::No;
    };
    if !array {
        return find(field, rest);
    }
    let Some(items) = field.as_array() else {
        return Found::No;
    };
    if rest.is_empty() {
        return Found::Yes;
    }
    let results: Vec<Found> = items.iter().map(|i| find(i, rest)).collect();
    if results.contains(&Found::Yes) {
        Found::Yes
    } else if items.is_empty() || results.contains(&Found::Empty) {
        Found::Empty
    } else {
        Found::No
    }
}

/// Check every documented path of `section` in `v`; the paths only empty arrays hid.
fn check(section: &str, paths: &[String], v: &Value) -> Vec<String> {
    let mut empty = Vec::new();
    for p in paths {
        let segs: Vec<&str> = p.split('.').collect();
        match find(v, &segs) {
            Found::Yes => {}
            Found::Empty => empty.push(p.clone()),
            Found::No => panic!(
                "{section}: documented field {p} is not in\n{}",
                serde_json::to_string_pretty(v).unwrap()
            ),
        }
    }
    empty
}

/// `mha ARGS`, off the runtime the writer runs on: exit code and parsed standard output.
async fn json_of(args: Vec<String>) -> (i32, Value) {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bed::run_mha(&bed::mha_bin(), &args)
    })
    .await
    .unwrap();
    let (stdout, stderr) = bed::text(&out);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
    (out.status.code().unwrap(), v)
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter()
        .map(|s| s.to_string())
        .chain(["--output".into(), "json".into()])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_field_is_in_the_json_output() {
    let doc = documented();
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let writer = c.writer("server1");
    writer.wait_acked(20, Duration::from_secs(10)).await;
    let conf = c.state.app_config();
    let conf = conf.to_str().unwrap();
    let dir = c.dir.path().to_str().unwrap();
    let new_port = format!("--new_master_port={}", c.node("server2").port);
    let alive = [
        "master_switch",
        "--master_state=alive",
        "--conf",
        conf,
        "--interactive=0",
        "--new_master_host=127.0.0.1",
        &new_port,
        "--orig_master_is_new_slave",
        "--dry-run",
    ];
    let mut runs: Vec<(&str, i32, Value)> = Vec::new();
    for (section, argv) in [
        ("check_repl", args(&["check_repl", "--conf", conf])),
        ("check_ssh", args(&["check_ssh", "--conf", conf])),
        ("check_status", args(&["check_status", "--conf", conf])),
        ("check_config", args(&["check_config", "--conf", conf])),
        ("sandbox status", args(&["sandbox", "status", "--dir", dir])),
        ("master_switch --master_state=alive --dry-run", args(&alive)),
    ] {
        let (code, v) = json_of(argv).await;
        runs.push((section, code, v));
    }
    writer.wait_acked(40, Duration::from_secs(10)).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let dead_port = format!("--dead_master_port={}", c.node("server1").port);
    let dead = [
        "master_switch",
        "--master_state=dead",
        "--conf",
        conf,
        "--interactive=0",
        "--dead_master_host=127.0.0.1",
        &dead_port,
        "--dry-run",
    ];
    let (code, v) = json_of(args(&dead)).await;
    runs.push(("master_switch --master_state=dead --dry-run", code, v));
    writer.stop().await;

    // The exit codes the text output would give, and what the values say.
    let expected_codes = [0, 0, 2, 0, 0, 0, 0];
    let codes: Vec<i32> = runs.iter().map(|r| r.1).collect();
    assert_eq!(codes, expected_codes, "{runs:#?}");
    assert_eq!(runs[0].2["healthy"], true);
    assert_eq!(runs[1].2["ok"], true);
    assert_eq!(runs[1].2["total"], 9);
    assert_eq!(runs[2].2["status"], "NOT_RUNNING");
    assert_eq!(runs[5].2["outcome"], "dry_run");
    assert_eq!(runs[6].2["outcome"], "dry_run");
    assert_eq!(runs[6].2["planned"]["new_master_block"], "server2");

    // Arrays that may be empty on a healthy cluster: their elements' fields cannot be seen.
    let may_be_empty = [
        "findings[].severity",
        "findings[].problem",
        "findings[].message",
        "skipped[].block",
        "skipped[].host",
    ];
    for (section, _, v) in &runs {
        let d = doc
            .get(*section)
            .unwrap_or_else(|| panic!("docs/output-json.md has no section {section}"));
        let (paths, examples) = (&d.always, &d.examples);
        assert!(paths.len() >= 8, "{section}: {paths:?}");
        assert_eq!(examples.len(), 1, "{section}: one example");
        let undocumented = d.undocumented(v);
        assert!(
            undocumented.is_empty(),
            "{section}: {undocumented:?} not documented"
        );
        for empty in check(section, paths, v) {
            assert!(
                may_be_empty.contains(&empty.as_str()),
                "{section}: {empty} not seen"
            );
        }
        for empty in check(section, paths, &examples[0]) {
            assert!(
                may_be_empty.contains(&empty.as_str()),
                "{section} example: {empty}"
            );
        }
    }
    // Every section but the closing one is run.
    assert_eq!(doc.len(), runs.len() + 1, "{:?}", doc.keys());
}

#[test]
fn a_missing_field_is_found_missing() {
    let v: Value = serde_json::json!({"a": [{"b": 1}, {"c": {"d": null}}], "e": []});
    assert_eq!(find(&v, &["a[]", "b"]), Found::Yes);
    assert_eq!(find(&v, &["a[]", "c", "d"]), Found::Yes);
    assert_eq!(find(&v, &["a[]", "x"]), Found::No);
    assert_eq!(find(&v, &["e[]", "x"]), Found::Empty);
    assert_eq!(find(&v, &["e[]"]), Found::Yes);
    assert_eq!(find(&v, &["a", "d"]), Found::No);
}
