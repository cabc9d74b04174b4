shared::function_main!(shared::AppState::from_env(), delete_task::handler);
