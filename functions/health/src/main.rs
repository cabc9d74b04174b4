shared::function_main!(shared::state::health_state(), health::handler);
