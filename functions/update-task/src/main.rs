shared::function_main!(shared::startup::task_state(), update_task::handler);
