shared::function_main!(shared::state::task_state(), update_task::handler);
