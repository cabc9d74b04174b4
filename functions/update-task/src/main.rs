shared::function_main!(shared::AppState::from_env(), update_task::handler);
