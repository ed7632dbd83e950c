use std::process::ExitCode;

fn main() -> ExitCode {
    nsfleet_client::app::main()
}
