//! The `tabletalk` binary.

fn main() -> std::process::ExitCode {
    tabletalk_server::cli::main()
}
