//! What a task function builds once per execution environment and keeps
//! across warm invocations.

use crate::{
    auth::Authenticator,
    config::Config,
    db::{Database, DbSetupError},
    repository::TaskRepository,
    tls::Tls,
};

pub struct AppState {
    pub auth: Authenticator,
    pub tasks: TaskRepository,
}

impl AppState {
    pub fn new(config: &Config) -> Result<Self, DbSetupError> {
        // One TLS connector for the database and the JWKS endpoint.
        let tls = Tls::new(config.db.ca_file.clone());
        Ok(Self {
            auth: Authenticator::new(&config.auth, &tls),
            tasks: TaskRepository::new(Database::new(&config.db, &tls)?),
        })
    }

    /// Opens the first database connection and fetches the JWKS, at once,
    /// so that the first request pays for neither. Failures are logged.
    pub async fn warm_up(&self) {
        tokio::join!(self.tasks.database().warm_up(), self.auth.warm_up());
    }
}
