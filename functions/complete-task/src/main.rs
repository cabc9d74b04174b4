shared::function_main!(shared::startup::task_state(), complete_task::handler);
