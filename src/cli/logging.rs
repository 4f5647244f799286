//! Logs go to standard error, or to manager_log once the manager sets it: human text by
//! default, JSON lines with `--log-format json`. Command results go to standard output.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use super::args::LogFormat;

static LOG_FILE: OnceLock<Mutex<Option<File>>> = OnceLock::new();

fn log_file() -> &'static Mutex<Option<File>> {
    LOG_FILE.get_or_init(|| Mutex::new(None))
}

/// Send every later log line to `path` (appending), as MHA's manager_log.
pub fn log_to_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = File::options().create(true).append(true).open(path)?;
    *log_file().lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    // Colour codes do not belong in a log file; the subscriber decided at start, so
    // manager_log users should run without a terminal or set NO_COLOR.
    Ok(())
}

struct Target;

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match log_file()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(f) => f.write(buf),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match log_file()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(f) => f.flush(),
            None => std::io::stderr().flush(),
        }
    }
}

struct MakeTarget;

impl<'a> MakeWriter<'a> for MakeTarget {
    type Writer = Target;
    fn make_writer(&'a self) -> Target {
        Target
    }
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("MHA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeTarget)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
