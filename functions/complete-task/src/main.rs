shared::function_main!(shared::AppState::from_env(), complete_task::handler);
