//! `migrate up | down --yes | status`: applies all pending migrations,
//! reverts the latest one (dropping its data: hence `--yes`), or lists
//! them. Reads `DATABASE_URL`, which names the tables' owner: the
//! functions connect as another role (`migrations/0003`).

use std::process::ExitCode;

use shared::{config::DbConfig, db, migrations};
use tokio_postgres::error::SqlState;

const USAGE: &str = "usage: migrate up | down --yes | status   (reads DATABASE_URL)";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    let command = command.as_str();
    if !["up", "down", "status"].contains(&command) {
        return Err(format!("unknown command `{command}`\n{USAGE}"));
    }
    let confirmed = rest.iter().any(|a| a == "--yes");
    if let Some(extra) = rest.iter().find(|a| *a != "--yes" || command != "down") {
        return Err(format!("unexpected argument `{extra}`\n{USAGE}"));
    }
    if command == "down" && !confirmed {
        return Err(format!(
            "down reverts the latest migration and drops what it created, data included; \
             run `migrate down --yes` to do it\n{USAGE}"
        ));
    }
    let cfg = DbConfig::from_env().map_err(|e| e.to_string())?;
    let mut client = db::connect(&cfg)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let failed = |e: tokio_postgres::Error| {
        let text = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.to_string());
        if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
            format!(
                "{text}\na table stayed locked by another session (a long query or open \
                 transaction) for {}: nothing was changed; retry when it ends",
                migrations::LOCK_TIMEOUT
            )
        } else {
            text
        }
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
