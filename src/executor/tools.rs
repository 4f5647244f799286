//! The programs a failover runs on the manager's host: the binlog decoder and the client that
//! applies what it decodes (`mariadb-binlog | mariadb`, `mysqlbinlog | mysql`). Looked up in
//! the server's `client_bindir` first, then in PATH; run with the server's `client_libdir`
//! (MHA's library path for those tools) first in LD_LIBRARY_PATH.

use std::path::{Path, PathBuf};

use crate::config::ServerConfig;

pub const BINLOG_TOOLS: [&str; 2] = ["mariadb-binlog", "mysqlbinlog"];
pub const CLIENT_TOOLS: [&str; 2] = ["mariadb", "mysql"];

/// Where `names` are looked for: `client_bindir` of `s`, then PATH.
pub fn search_dirs(s: &ServerConfig) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = s.client_bindir.iter().cloned().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// The first of `names` found for server `s`.
pub fn find(names: &[&str], s: &ServerConfig) -> Option<PathBuf> {
    find_program_in(names, &search_dirs(s))
}

/// The first of `names` in the first of `dirs` that holds it.
pub fn find_program_in(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    names
        .iter()
        .find_map(|name| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()))
}

/// A command running `program` (one of the tools found for `s`), with `client_libdir` first
/// in its LD_LIBRARY_PATH when set.
pub fn command(program: &Path, s: &ServerConfig) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    if let Some(dir) = &s.client_libdir {
        cmd.env(
            "LD_LIBRARY_PATH",
            library_path(dir, std::env::var_os("LD_LIBRARY_PATH")),
        );
    }
    cmd
}

/// `dir` before the inherited library path.
fn library_path(dir: &Path, inherited: Option<std::ffi::OsString>) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(old) = inherited {
        dirs.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_libdir_comes_first_in_the_library_path() {
        for (inherited, want) in [
            (None, "/opt/mysql/lib"),
            (Some("/usr/local/lib"), "/opt/mysql/lib:/usr/local/lib"),
        ] {
            let got = library_path(Path::new("/opt/mysql/lib"), inherited.map(Into::into));
            assert_eq!(got, std::ffi::OsString::from(want));
        }
    }
}
