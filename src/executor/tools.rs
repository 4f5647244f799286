//! The programs a failover runs on the manager's host: the binlog decoder and the client that
//! applies what it decodes (`mariadb-binlog | mariadb`, `mysqlbinlog | mysql`). Looked up in
//! the server's `client_bindir` first, then in PATH.

use std::path::PathBuf;

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
