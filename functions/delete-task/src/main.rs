shared::function_main!(shared::startup::task_state(), delete_task::handler);
