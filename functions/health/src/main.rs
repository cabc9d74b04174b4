shared::function_main!(shared::db::Database::from_env(), health::handler);
