shared::function_main!(shared::startup::task_state(), create_task::handler);
