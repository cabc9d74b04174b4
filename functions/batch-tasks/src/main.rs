shared::function_main!(shared::state::task_state(), batch_tasks::handler);
