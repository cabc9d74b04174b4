use lambda_http::{Error, run, service_fn};
use shared::db::Database;

// One request at a time per Lambda environment: no thread pool needed.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let db = Database::from_env().await?;
    let db = &db;
    run(service_fn(move |req| async move {
        Ok::<_, Error>(health::handler(req, db).await)
    }))
    .await
}
