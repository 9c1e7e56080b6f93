//! The `producer` command: parses the command line, sets up logging, runs the command
//! (`commands/`); the work is in the library and its crates.

mod cli;
mod commands;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    commands::dispatch(cli::Cli::parse().command).await
}
