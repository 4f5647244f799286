//! `mha check_config`: validate and print the effective configuration, secrets masked.

use std::fmt::Write;

use crate::config::{Config, Loaded};

use super::args::Output;

pub fn render(loaded: &Loaded, output: Output) -> String {
    let c = &loaded.config;
    match output {
        Output::Json => {
            let doc = serde_json::json!({
                "app": c.app_name,
                "file": c.path,
                "global_file": c.global_path,
                "servers": c.servers.iter().map(|s| &s.block).collect::<Vec<_>>(),
                "blocks": c.effective,
                "warnings": loaded.warnings,
            });
            serde_json::to_string_pretty(&doc).expect("json") + "\n"
        }
        Output::Text => render_text(c),
    }
}

fn render_text(c: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Effective configuration of {} from {}",
        c.app_name,
        c.path.display()
    );
    match &c.global_path {
        Some(g) => {
            let _ = writeln!(out, "# Global defaults from {}", g.display());
        }
        None => {
            let _ = writeln!(out, "# No global defaults file");
        }
    }
    let _ = writeln!(
        out,
        "# Server order (breaks ties when choosing a new master): {}",
        c.servers
            .iter()
            .map(|s| s.block.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for block in &c.effective {
        let _ = writeln!(out, "\n[{}]", block.name);
        if block.name == "timeouts" {
            // Not a block of the file: the waits, wherever they were set.
            let _ = writeln!(
                out,
                "# Seconds; set in [server default]. ssh_connection_timeout is per server (below); waits not listed scale with ping_interval."
            );
        }
        let width = block
            .entries
            .iter()
            .map(|e| e.key.len() + value_text(&e.value).len())
            .max()
            .unwrap_or(0)
            + 3;
        for e in &block.entries {
            let line = format!("{} = {}", e.key, value_text(&e.value));
            let _ = writeln!(out, "{line:<width$}  # {}", e.origin);
        }
    }
    out
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
