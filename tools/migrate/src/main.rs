//! `migrate up | down | status`: applies all pending migrations, reverts
//! the latest one, or lists them. Reads `DATABASE_URL`.

use std::process::ExitCode;

use shared::{config::DbConfig, db, migrations};

const USAGE: &str = "usage: migrate up | down | status   (reads DATABASE_URL)";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(std::env::args().nth(1).as_deref()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Option<&str>) -> Result<(), String> {
    let command = command.ok_or(USAGE)?;
    if !["up", "down", "status"].contains(&command) {
        return Err(format!("unknown command `{command}`\n{USAGE}"));
    }
    let cfg = DbConfig::from_env().map_err(|e| e.to_string())?;
    let mut client = db::connect(&cfg)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let failed = |e: tokio_postgres::Error| {
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.to_string())
    };
    match command {
        "up" => {
            let applied = migrations::up(&mut client).await.map_err(failed)?;
            if applied.is_empty() {
                println!("up to date");
            }
            for version in applied {
                println!("applied {version:04}");
            }
        }
        "down" => match migrations::down(&mut client).await.map_err(failed)? {
            Some(version) => println!("reverted {version:04}"),
            None => println!("nothing to revert"),
        },
        _ => {
            for (m, applied_at) in migrations::status(&mut client).await.map_err(failed)? {
                let state = applied_at.map_or("pending".to_owned(), |t| format!("applied {t}"));
                println!("{:04} {:<32} {state}", m.version, m.name);
            }
        }
    }
    Ok(())
}
