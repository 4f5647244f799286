//! Logs go to standard error: human text by default, JSON lines with `--log-format json`.
//! Command results (reports, effective config) go to standard output.

use tracing_subscriber::EnvFilter;

use super::args::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("MHA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
