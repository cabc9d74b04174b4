shared::function_main!(shared::state::task_state(), list_changes::handler);
