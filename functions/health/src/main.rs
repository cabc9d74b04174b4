shared::function_main!(shared::startup::health_state(), health::handler);
