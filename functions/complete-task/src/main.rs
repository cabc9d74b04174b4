shared::function_main!(shared::state::task_state(), complete_task::handler);
