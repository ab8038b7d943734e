//! The `safepulse` binary, built inside the test package (see Cargo.toml).

fn main() -> std::process::ExitCode {
    safepulse_api::cli::main()
}
