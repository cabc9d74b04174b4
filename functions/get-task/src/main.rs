shared::function_main!(shared::AppState::from_env(), get_task::handler);
