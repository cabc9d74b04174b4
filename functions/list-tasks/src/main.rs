shared::function_main!(shared::startup::task_state(), list_tasks::handler);
