//! The `pharmacy` command: see `pharmacy --help`.

fn main() -> std::process::ExitCode {
    pharmacy::cli::main()
}
