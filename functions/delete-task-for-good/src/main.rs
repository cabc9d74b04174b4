shared::function_main!(shared::state::task_state(), delete_task_for_good::handler);
