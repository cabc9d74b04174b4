shared::function_main!(shared::state::task_state(), task_history::handler);
