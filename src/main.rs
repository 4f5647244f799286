use std::process::ExitCode;

fn main() -> ExitCode {
    mha::cli::run(std::env::args_os().collect()).into()
}
