shared::function_main!(shared::AppState::from_env(), create_task::handler);
