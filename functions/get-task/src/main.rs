shared::function_main!(shared::startup::task_state(), get_task::handler);
