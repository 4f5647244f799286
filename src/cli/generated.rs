//! Shell completions and man pages, generated from the clap definitions in args.rs (never
//! written by hand): `mha completions SHELL` and the package build's `mha man --dir DIR`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use super::args::Cli;

/// The completion script for `shell`, for the program name `mha`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "mha", out);
    out.flush().context("cannot write the completion script")
}

/// Write `mha.1` and one page per visible subcommand, nested ones included
/// (`mha-check_repl.1`, `mha-sandbox-up.1`), into `dir` (created if missing); the paths
/// written, in order.
pub fn man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = Vec::new();
    write_pages(cmd, dir, &mut written)?;
    Ok(written)
}

fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let man =
        clap_mangen::Man::new(cmd.clone()).source(format!("mha {}", env!("CARGO_PKG_VERSION")));
    let path = dir.join(man.get_filename());
    man.generate_to(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible subcommand's name, nested ones as `parent sub`.
    fn visible(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("{prefix}{}", sub.get_name());
            out.push(name.clone());
            visible(sub, &format!("{name} "), out);
        }
    }

    #[test]
    fn completions_name_every_subcommand() {
        let mut names = Vec::new();
        visible(&Cli::command(), "", &mut names);
        assert!(names.len() > 12, "{names:?}");
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let script = String::from_utf8(out).unwrap();
            for name in &names {
                let last = name.rsplit(' ').next().unwrap();
                assert!(script.contains(last), "{shell}: no {name}");
            }
            // Options too, MHA's spelling.
            assert!(script.contains("master_state"), "{shell}");
        }
    }

    #[test]
    fn a_man_page_for_mha_and_every_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = man_pages(dir.path()).unwrap();
        let mut names = Vec::new();
        visible(&Cli::command(), "", &mut names);
        let mut want: Vec<String> = names
            .iter()
            .map(|n| format!("mha-{}.1", n.replace(' ', "-")))
            .collect();
        want.push("mha.1".into());
        want.sort();
        let mut got: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        got.sort();
        assert_eq!(got, want);
        assert_eq!(written.len(), want.len());
        let page = std::fs::read_to_string(dir.path().join("mha-check_repl.1")).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
        assert!(page.contains("seconds_behind_master"), "{page}");
    }
}
