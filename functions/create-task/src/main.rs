shared::function_main!(shared::state::task_state(), create_task::handler);
