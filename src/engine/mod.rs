//! PURE decisions: no async, no clock, no network, no files, no logging. Functions take
//! snapshots (and `now` where time matters) and return values that carry their reasons.

pub mod checks;
pub mod cost;
pub mod deposed;
pub mod detect;
pub mod elect;
pub mod guard;
pub mod plan;
pub mod readiness;
pub mod reason;
pub mod rejoin;
pub mod secondary;
pub mod semi_sync;

#[cfg(test)]
mod purity {
    /// The engine must stay pure; this keeps the rule honest.
    #[test]
    fn engine_files_do_no_io() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for banned in [
                "tokio",
                "crate::sql",
                "crate::ssh",
                "Instant::now",
                "SystemTime::now",
                "std::fs",
                "tracing::",
            ] {
                assert!(!code.contains(banned), "{} uses {banned}", path.display());
            }
        }
    }
}
