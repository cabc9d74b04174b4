shared::function_main!(shared::state::task_state(), get_task::handler);
