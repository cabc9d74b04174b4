//! `local-api`'s router, plus `GET /noop` answering `ok` on the very same
//! server stack (axum, CORS, the same middleware): the bare HTTP round trip
//! every endpoint is compared with.
//!
//!   DATABASE_URL=... BETTER_AUTH_SECRET=... PORT=3000 bench-server

use std::sync::Arc;

use axum::{Router, routing::get};
use shared::{AppState, config::Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let port: u16 = std::env::var("PORT")?.parse()?;
    let state = AppState::new(&config)?;
    state.warm_up().await;
    let origins = local_api::AllowedOrigins::parse("http://localhost:5173")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new()
        .route("/noop", get(|| async { "ok" }))
        .merge(local_api::app(
            Arc::new(state),
            origins,
            listener.local_addr()?,
        ));
    println!("bench-server listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await?;
    Ok(())
}
