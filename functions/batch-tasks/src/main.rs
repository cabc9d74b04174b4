shared::function_main!(shared::state::batch_state(), batch_tasks::handler);
