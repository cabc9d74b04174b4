use lambda_http::{Error, run, service_fn};
use shared::AppState;

// One request at a time per Lambda environment: no thread pool needed.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let state = AppState::from_env().await?;
    let state = &state;
    run(service_fn(move |req| async move {
        Ok::<_, Error>(get_task::handler(req, state).await)
    }))
    .await
}
