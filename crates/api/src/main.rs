//! `safepulse`: see `safepulse --help`.

fn main() -> std::process::ExitCode {
    safepulse_api::cli::main()
}
