//! The `podinit` command line: thin wrappers over the library's drivers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use podinit::explain;

#[derive(Parser)]
#[command(
    name = "podinit",
    version,
    about = "Kubernetes sidecar semantics at the OCI runtime layer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show how a bundle's container is classified (init/sidecar/app) and why.
    Explain {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The OCI bundle directory (or its config.json).
        bundle: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Explain { json, bundle } => match explain::classify_path(&bundle) {
            Ok(classified) => {
                if json {
                    println!("{}", explain::to_json(&classified));
                } else {
                    print!("{}", explain::to_text(&classified));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("podinit explain: {e}");
                ExitCode::from(2)
            }
        },
    }
}
