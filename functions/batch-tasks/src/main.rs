shared::function_main!(shared::batch::batch_state(), batch_tasks::handler);
