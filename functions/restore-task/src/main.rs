shared::function_main!(shared::state::task_state(), restore_task::handler);
