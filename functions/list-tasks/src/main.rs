shared::function_main!(shared::AppState::from_env(), list_tasks::handler);
